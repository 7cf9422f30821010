# The older style many repositories still have: a launch configuration with
# create_before_destroy, the group attached to its target group by a
# separate resource, CPU alarms driving simple scaling policies, a night
# schedule, a key pair, and security group rules as their own resources.

variable "project" {
  type    = string
  default = "lc-web"
}

variable "ami" {
  type    = string
  default = "ami-1e749f67"
}

variable "public_key" {
  type    = string
  default = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC6zG70fCIX0+JPBS+IRrUBTv1avMbHdN8DAEKkdg0/IQPLRfe1wYKOiPQ2jjdQcgQQCu4KVjSwEeqc1TwjHkvltPHDqmcXo2IL6hvI1sdkv3oQRK5EUa7KeGkjcAia/AQDUonSJer+nE1k6AmMIfDofC1f5GOqk9J/vRgNknA9oM676LYiV2Wra3fN9TEozZBv6PBntX2BFonWw2GHMR1InWq/zDnTOYD5XEIcn2vBXBsMHoIyzBQau3MOzyxA1rvKlRuM7XnQKWtgb4T0ILr9bDxNA/q7KFqAGI+pmphAtRTLxZEmnCdCQzVoo6PE8OikoGTJ6Y0gY5AHMMq+S8B/ deploy"
}

provider "aws" {
  region = "us-east-1"
}

data "aws_availability_zones" "available" {
  state = "available"
}

resource "aws_vpc" "vpc" {
  cidr_block = "10.62.0.0/16"
}

resource "aws_internet_gateway" "igw" {
  vpc_id = aws_vpc.vpc.id
}

resource "aws_subnet" "web" {
  count                   = 2
  vpc_id                  = aws_vpc.vpc.id
  cidr_block              = "10.62.${count.index + 1}.0/24"
  availability_zone       = data.aws_availability_zones.available.names[count.index]
  map_public_ip_on_launch = true
}

resource "aws_route_table" "rt" {
  vpc_id = aws_vpc.vpc.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.igw.id
  }
}

resource "aws_route_table_association" "rta" {
  count          = 2
  subnet_id      = element(aws_subnet.web.*.id, count.index)
  route_table_id = aws_route_table.rt.id
}

resource "aws_key_pair" "deployer" {
  key_name   = "${var.project}-deployer"
  public_key = var.public_key
}

resource "aws_security_group" "elb" {
  name   = "${var.project}-elb-sg"
  vpc_id = aws_vpc.vpc.id
}

resource "aws_security_group_rule" "elb_http_in" {
  type              = "ingress"
  from_port         = 80
  to_port           = 80
  protocol          = "tcp"
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = aws_security_group.elb.id
}

resource "aws_security_group_rule" "elb_out" {
  type                     = "egress"
  from_port                = 80
  to_port                  = 80
  protocol                 = "tcp"
  source_security_group_id = aws_security_group.instance.id
  security_group_id        = aws_security_group.elb.id
}

resource "aws_security_group" "instance" {
  name   = "${var.project}-instance-sg"
  vpc_id = aws_vpc.vpc.id
}

resource "aws_security_group_rule" "instance_http_in" {
  type                     = "ingress"
  from_port                = 80
  to_port                  = 80
  protocol                 = "tcp"
  source_security_group_id = aws_security_group.elb.id
  security_group_id        = aws_security_group.instance.id
}

resource "aws_security_group_rule" "instance_all_out" {
  type              = "egress"
  from_port         = 0
  to_port           = 0
  protocol          = "-1"
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = aws_security_group.instance.id
}

resource "aws_alb" "web" {
  name            = "${var.project}-alb"
  subnets         = aws_subnet.web.*.id
  security_groups = [aws_security_group.elb.id]
}

resource "aws_alb_target_group" "web" {
  name     = "${var.project}-tg"
  port     = 80
  protocol = "HTTP"
  vpc_id   = aws_vpc.vpc.id
}

resource "aws_alb_listener" "web" {
  load_balancer_arn = aws_alb.web.arn
  port              = "80"
  protocol          = "HTTP"
  default_action {
    target_group_arn = aws_alb_target_group.web.arn
    type             = "forward"
  }
}

resource "aws_launch_configuration" "web" {
  name_prefix     = "${var.project}-lc-"
  image_id        = var.ami
  instance_type   = "t2.micro"
  key_name        = aws_key_pair.deployer.key_name
  security_groups = [aws_security_group.instance.id]
  user_data       = "#!/bin/bash\necho ok > /tmp/ok\n"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_autoscaling_group" "web" {
  name                 = "${var.project}-asg-${aws_launch_configuration.web.name}"
  launch_configuration = aws_launch_configuration.web.name
  vpc_zone_identifier  = aws_subnet.web.*.id
  min_size             = 1
  max_size             = 4
  desired_capacity     = 2
  health_check_type    = "EC2"
  force_delete         = true

  tags = [
    {
      key                 = "Name"
      value               = "${var.project}-web"
      propagate_at_launch = true
    },
  ]

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_autoscaling_attachment" "web" {
  autoscaling_group_name = aws_autoscaling_group.web.id
  lb_target_group_arn    = aws_alb_target_group.web.arn
}

resource "aws_autoscaling_policy" "scale_up" {
  name                   = "${var.project}-scale-up"
  scaling_adjustment     = 1
  adjustment_type        = "ChangeInCapacity"
  cooldown               = 300
  autoscaling_group_name = aws_autoscaling_group.web.name
}

resource "aws_autoscaling_policy" "scale_down" {
  name                   = "${var.project}-scale-down"
  scaling_adjustment     = -1
  adjustment_type        = "ChangeInCapacity"
  cooldown               = 300
  autoscaling_group_name = aws_autoscaling_group.web.name
}

resource "aws_cloudwatch_metric_alarm" "cpu_high" {
  alarm_name          = "${var.project}-cpu-high"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = 2
  metric_name         = "CPUUtilization"
  namespace           = "AWS/EC2"
  period              = 120
  statistic           = "Average"
  threshold           = 80
  alarm_actions       = [aws_autoscaling_policy.scale_up.arn]
  dimensions = {
    AutoScalingGroupName = aws_autoscaling_group.web.name
  }
}

resource "aws_cloudwatch_metric_alarm" "cpu_low" {
  alarm_name          = "${var.project}-cpu-low"
  comparison_operator = "LessThanOrEqualToThreshold"
  evaluation_periods  = 2
  metric_name         = "CPUUtilization"
  namespace           = "AWS/EC2"
  period              = 120
  statistic           = "Average"
  threshold           = 10
  alarm_actions       = [aws_autoscaling_policy.scale_down.arn]
  dimensions = {
    AutoScalingGroupName = aws_autoscaling_group.web.name
  }
}

resource "aws_autoscaling_schedule" "night" {
  scheduled_action_name  = "${var.project}-night"
  min_size               = 1
  max_size               = 4
  desired_capacity       = 1
  recurrence             = "0 22 * * *"
  autoscaling_group_name = aws_autoscaling_group.web.name
}

output "alb_dns" {
  value = aws_alb.web.dns_name
}
