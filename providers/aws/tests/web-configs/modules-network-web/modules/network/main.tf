variable "name" {
  type = string
}

variable "cidr" {
  type = string
}

variable "subnets" {
  type = map(object({
    zone    = string
    newbits = number
    netnum  = number
  }))
}

resource "aws_vpc" "this" {
  cidr_block = var.cidr
  tags = {
    Name = var.name
  }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "this" {
  for_each                = var.subnets
  vpc_id                  = aws_vpc.this.id
  availability_zone       = each.value.zone
  cidr_block              = cidrsubnet(var.cidr, each.value.newbits, each.value.netnum)
  map_public_ip_on_launch = true
  tags = {
    Name = "${var.name}-${each.key}"
  }
}

resource "aws_route_table" "this" {
  vpc_id = aws_vpc.this.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
}

resource "aws_route_table_association" "this" {
  for_each       = aws_subnet.this
  subnet_id      = each.value.id
  route_table_id = aws_route_table.this.id
}

output "vpc_id" {
  value = aws_vpc.this.id
}

output "subnet_ids" {
  value = [for k in sort(keys(aws_subnet.this)) : aws_subnet.this[k].id]
}
