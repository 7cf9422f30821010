# A web tier on AWS, replaced immutably: a VPC with two public subnets, an
# Auto Scaling group of instances behind an application load balancer.
#
#   kiln apply --yes                             # generation 1
#   kiln apply --yes --var ami=ami-35e92e4c      # a new image: a new launch template, group and
#                                                # target group; the listener moves once healthy
#   kiln apply --yes --var desired=3             # capacity only: changed in place
#   kiln destroy --yes
#
# The default AMIs exist in moto, the local AWS emulator the tests use (see
# the README); on a real account pass your own, or use an aws_ami data source.

variable "ami" {
  type        = string
  default     = "ami-1e749f67"
  description = "The image the instances run."
}

variable "instance_type" {
  type    = string
  default = "t3.micro"
}

variable "desired" {
  type        = number
  default     = 2
  description = "How many instances serve; changed in place."
}

provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = {
      project = "aws-web"
    }
  }
}

resource "aws_vpc" "main" {
  cidr_block           = "10.20.0.0/16"
  enable_dns_hostnames = true
  tags = {
    Name = "aws-web"
  }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
}

resource "aws_subnet" "a" {
  vpc_id                  = aws_vpc.main.id
  cidr_block              = "10.20.1.0/24"
  availability_zone       = "us-east-1a"
  map_public_ip_on_launch = true
}

resource "aws_subnet" "b" {
  vpc_id                  = aws_vpc.main.id
  cidr_block              = "10.20.2.0/24"
  availability_zone       = "us-east-1b"
  map_public_ip_on_launch = true
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }
}

resource "aws_route_table_association" "a" {
  subnet_id      = aws_subnet.a.id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table_association" "b" {
  subnet_id      = aws_subnet.b.id
  route_table_id = aws_route_table.public.id
}

# HTTP in, everything out; no SSH (port 22 stays closed).
resource "aws_security_group" "web" {
  description = "web: HTTP from anywhere"
  vpc_id      = aws_vpc.main.id
  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_lb" "front" {
  load_balancer_type = "application"
  subnets            = [aws_subnet.a.id, aws_subnet.b.id]
  security_groups    = [aws_security_group.web.id]
}

# Named after the image: a new image gets a new target group, and the
# listener moves to it once the new Auto Scaling group is healthy.
resource "aws_lb_target_group" "web" {
  name_prefix = "web-${var.ami}"
  port        = 80
  protocol    = "HTTP"
  vpc_id      = aws_vpc.main.id
  health_check {
    path    = "/"
    matcher = "200"
  }
}

resource "aws_launch_template" "web" {
  image_id               = var.ami
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.web.id]
}

resource "aws_autoscaling_group" "web" {
  min_size            = 1
  max_size            = 4
  desired_capacity    = var.desired
  vpc_zone_identifier = [aws_subnet.a.id, aws_subnet.b.id]
  target_group_arns   = [aws_lb_target_group.web.arn]
  health_check_type   = "ELB"
  launch_template {
    id      = aws_launch_template.web.id
    version = "$Latest"
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.front.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.web.arn
  }
  # Traffic moves only once the new group has its capacity in service.
  depends_on = [aws_autoscaling_group.web]
}

output "url" {
  value = "http://${aws_lb.front.dns_name}/"
}
