# The network of the platform: a VPC across the given zones, in each one a
# public subnet (load balancers, NAT gateways), an application subnet and
# a data subnet (container hosts), a NAT gateway with its Elastic IP, and a
# route table per tier (private tables per zone, through that zone's NAT).

variable "name" {
  type = string
}

variable "cidr" {
  type = string
}

variable "zones" {
  type = list(string)
}

locals {
  # Three tiers of /20 per zone: public 0-, app 4-, data 8-.
  zone_index = { for i, z in var.zones : z => i }
  tiers = {
    public = 0
    app    = 4
    data   = 8
  }
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags = {
    Name = var.name
  }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags = {
    Name = var.name
  }
}

resource "aws_subnet" "public" {
  for_each                = local.zone_index
  vpc_id                  = aws_vpc.this.id
  availability_zone       = each.key
  cidr_block              = cidrsubnet(var.cidr, 4, local.tiers.public + each.value)
  map_public_ip_on_launch = true
  tags = {
    Name = "${var.name}-public-${each.key}"
    Tier = "public"
  }
}

resource "aws_subnet" "app" {
  for_each          = local.zone_index
  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = cidrsubnet(var.cidr, 4, local.tiers.app + each.value)
  tags = {
    Name = "${var.name}-app-${each.key}"
    Tier = "app"
  }
}

resource "aws_subnet" "data" {
  for_each          = local.zone_index
  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = cidrsubnet(var.cidr, 4, local.tiers.data + each.value)
  tags = {
    Name = "${var.name}-data-${each.key}"
    Tier = "data"
  }
}

resource "aws_eip" "nat" {
  for_each   = local.zone_index
  domain     = "vpc"
  depends_on = [aws_internet_gateway.this]
  tags = {
    Name = "${var.name}-nat-${each.key}"
  }
}

resource "aws_nat_gateway" "this" {
  for_each      = local.zone_index
  allocation_id = aws_eip.nat[each.key].id
  subnet_id     = aws_subnet.public[each.key].id
  tags = {
    Name = "${var.name}-${each.key}"
  }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
  tags = {
    Name = "${var.name}-public"
  }
}

resource "aws_route_table_association" "public" {
  for_each       = aws_subnet.public
  subnet_id      = each.value.id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  for_each = local.zone_index
  vpc_id   = aws_vpc.this.id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.this[each.key].id
  }
  tags = {
    Name = "${var.name}-private-${each.key}"
  }
}

resource "aws_route_table_association" "app" {
  for_each       = aws_subnet.app
  subnet_id      = each.value.id
  route_table_id = aws_route_table.private[each.key].id
}

resource "aws_route_table_association" "data" {
  for_each       = aws_subnet.data
  subnet_id      = each.value.id
  route_table_id = aws_route_table.private[each.key].id
}

output "vpc_id" {
  value = aws_vpc.this.id
}

output "cidr" {
  value = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  value = [for z in var.zones : aws_subnet.public[z].id]
}

output "private_app_subnet_ids" {
  value = [for z in var.zones : aws_subnet.app[z].id]
}

output "private_data_subnet_ids" {
  value = [for z in var.zones : aws_subnet.data[z].id]
}

output "nat_ips" {
  value = [for z in var.zones : aws_nat_gateway.this[z].public_ip]
}
