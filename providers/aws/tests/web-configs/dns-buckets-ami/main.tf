# A web tier found by name: a private hosted zone with an alias to the load
# balancer and weighted records, access logs in a locked-down bucket, the
# image looked up by an aws_ami data source, the newer per-rule security
# group resources.

variable "project" {
  type    = string
  default = "dns-web"
}

variable "ami_name" {
  type    = string
  default = "amzn-ami-*"
}

variable "ami" {
  type    = string
  default = ""
}

variable "environment" {
  type    = string
  default = "staging"
  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

provider "aws" {
  region = "us-east-1"
}

data "aws_region" "current" {}

data "aws_ami" "base" {
  most_recent = true
  owners      = ["amazon"]
  filter {
    name   = "name"
    values = [var.ami_name]
  }
}

locals {
  image_id = var.ami != "" ? var.ami : data.aws_ami.base.id
  name     = "${var.project}-${var.environment}"
  tags = {
    Environment = var.environment
    Region      = data.aws_region.current.name
  }
}

resource "aws_vpc" "main" {
  cidr_block           = "10.64.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = local.tags
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
}

resource "aws_subnet" "public" {
  for_each                = toset(["us-east-1a", "us-east-1b"])
  vpc_id                  = aws_vpc.main.id
  availability_zone       = each.value
  cidr_block              = cidrsubnet("10.64.0.0/16", 4, index(["us-east-1a", "us-east-1b"], each.value))
  map_public_ip_on_launch = true
  tags                    = local.tags
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }
}

resource "aws_route_table_association" "public" {
  for_each       = aws_subnet.public
  subnet_id      = each.value.id
  route_table_id = aws_route_table.public.id
}

resource "aws_s3_bucket" "logs" {
  bucket        = "${local.name}-alb-logs"
  force_destroy = true
  tags          = local.tags
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

data "aws_iam_policy_document" "logs" {
  statement {
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs.json
}

resource "aws_security_group" "lb" {
  name        = "${local.name}-lb"
  description = "load balancer"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "lb_http" {
  security_group_id = aws_security_group.lb.id
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 80
  to_port           = 80
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "lb_all" {
  security_group_id = aws_security_group.lb.id
  cidr_ipv4         = aws_vpc.main.cidr_block
  ip_protocol       = "-1"
}

resource "aws_security_group" "web" {
  name        = "${local.name}-web"
  description = "instances"
  vpc_id      = aws_vpc.main.id
}

resource "aws_vpc_security_group_ingress_rule" "web_from_lb" {
  security_group_id            = aws_security_group.web.id
  referenced_security_group_id = aws_security_group.lb.id
  from_port                    = 80
  to_port                      = 80
  ip_protocol                  = "tcp"
}

resource "aws_lb" "web" {
  name               = "${local.name}-lb"
  load_balancer_type = "application"
  internal           = false
  subnets            = values(aws_subnet.public)[*].id
  security_groups    = [aws_security_group.lb.id]
}

resource "aws_lb_target_group" "web" {
  name     = "${local.name}-tg"
  port     = 80
  protocol = "HTTP"
  vpc_id   = aws_vpc.main.id
}

resource "aws_lb_listener" "web" {
  load_balancer_arn = aws_lb.web.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
}

resource "aws_launch_template" "web" {
  name_prefix            = "${local.name}-"
  image_id               = local.image_id
  instance_type          = var.environment == "production" ? "m5.large" : "t3.micro"
  vpc_security_group_ids = [aws_security_group.web.id]
  tags                   = local.tags
}

resource "aws_autoscaling_group" "web" {
  name_prefix         = "${local.name}-"
  desired_capacity    = 2
  min_size            = 2
  max_size            = 2
  vpc_zone_identifier = [for s in aws_subnet.public : s.id]
  target_group_arns   = [aws_lb_target_group.web.arn]
  launch_template {
    id      = aws_launch_template.web.id
    version = "$Latest"
  }
}

resource "aws_route53_zone" "internal" {
  name = "${var.project}.internal"
  vpc {
    vpc_id = aws_vpc.main.id
  }
}

resource "aws_route53_record" "www" {
  zone_id = aws_route53_zone.internal.zone_id
  name    = "www.${aws_route53_zone.internal.name}"
  type    = "A"
  alias {
    name                   = aws_lb.web.dns_name
    zone_id                = aws_lb.web.zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "api" {
  for_each       = { blue = 90, green = 10 }
  zone_id        = aws_route53_zone.internal.zone_id
  name           = "api.${aws_route53_zone.internal.name}"
  type           = "CNAME"
  ttl            = 60
  set_identifier = each.key
  records        = ["${each.key}.${aws_route53_zone.internal.name}"]
  weighted_routing_policy {
    weight = each.value
  }
}

output "www" {
  value = aws_route53_record.www.fqdn
}
