# One ECS tier: a cluster on an Auto Scaling group of container hosts (its
# capacity provider), a service of one container behind a load balancer.
#
# A new image is a new task definition, a new target group and a new
# service: started, checked healthy (the service runs its desired count),
# then the listener moves to the new target group and the old generation
# is deleted. The desired count changes in place.

variable "name" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "lb_subnet_ids" {
  type = list(string)
}

variable "host_subnet_ids" {
  type = list(string)
}

variable "internal" {
  type = bool
}

variable "lb_ingress_cidrs" {
  type = list(string)
}

variable "host_ami" {
  type = string
}

variable "instance_profile" {
  type = string
}

variable "image" {
  type = string
}

variable "container_port" {
  type = number
}

variable "desired" {
  type = number
}

variable "environment" {
  type    = map(string)
  default = {}
}

variable "host_count" {
  type = object({ min = number, max = number, desired = number })
  default = {
    min     = 1
    max     = 4
    desired = 2
  }
}

resource "aws_security_group" "lb" {
  name_prefix = "${var.name}-lb-"
  description = "${var.name}: HTTP to the load balancer"
  vpc_id      = var.vpc_id
  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = var.lb_ingress_cidrs
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# The hosts take traffic only from their load balancer; no SSH.
resource "aws_security_group" "hosts" {
  name_prefix = "${var.name}-hosts-"
  description = "${var.name}: container ports from the load balancer"
  vpc_id      = var.vpc_id
  ingress {
    from_port       = 32768
    to_port         = 65535
    protocol        = "tcp"
    security_groups = [aws_security_group.lb.id]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_launch_template" "hosts" {
  name_prefix            = "${var.name}-"
  image_id               = var.host_ami
  instance_type          = "t3.small"
  vpc_security_group_ids = [aws_security_group.hosts.id]
  iam_instance_profile {
    name = var.instance_profile
  }
  user_data = base64encode(<<-EOT
    #!/bin/bash
    echo "ECS_CLUSTER=${aws_ecs_cluster.this.name}" >> /etc/ecs/ecs.config
  EOT
  )
}

resource "aws_autoscaling_group" "hosts" {
  name_prefix         = "${var.name}-"
  min_size            = var.host_count.min
  max_size            = var.host_count.max
  desired_capacity    = var.host_count.desired
  vpc_zone_identifier = var.host_subnet_ids
  launch_template {
    id      = aws_launch_template.hosts.id
    version = "$Latest"
  }
  tag {
    key                 = "AmazonECSManaged"
    value               = "true"
    propagate_at_launch = true
  }
}

resource "aws_ecs_capacity_provider" "hosts" {
  name = "${var.name}-hosts"
  auto_scaling_group_provider {
    auto_scaling_group_arn         = aws_autoscaling_group.hosts.arn
    managed_termination_protection = "DISABLED"
    managed_scaling {
      status          = "ENABLED"
      target_capacity = 100
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = [aws_ecs_capacity_provider.hosts.name]
  default_capacity_provider_strategy {
    capacity_provider = aws_ecs_capacity_provider.hosts.name
    weight            = 1
  }
}

resource "aws_lb" "this" {
  name               = var.name
  internal           = var.internal
  load_balancer_type = "application"
  subnets            = var.lb_subnet_ids
  security_groups    = [aws_security_group.lb.id]
}

# Named after the image: a new image gets a new target group, and the
# listener moves to it once the new service runs.
resource "aws_lb_target_group" "this" {
  name     = "${substr(var.name, 0, 20)}-${substr(sha1(var.image), 0, 8)}"
  port     = var.container_port
  protocol = "HTTP"
  vpc_id   = var.vpc_id
  health_check {
    path    = "/"
    matcher = "200-399"
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["EC2"]
  network_mode             = "bridge"
  container_definitions = jsonencode([
    {
      name      = "app"
      image     = var.image
      essential = true
      cpu       = 256
      memory    = 256
      portMappings = [
        { containerPort = var.container_port, hostPort = 0, protocol = "tcp" }
      ]
      environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
    }
  ])
}

resource "aws_ecs_service" "this" {
  name            = var.name
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = var.desired
  capacity_provider_strategy {
    capacity_provider = aws_ecs_capacity_provider.hosts.name
    weight            = 1
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = "app"
    container_port   = var.container_port
  }
  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }
  # Traffic moves only once the new service runs its tasks.
  depends_on = [aws_ecs_service.this]
}

output "lb_dns_name" {
  value = aws_lb.this.dns_name
}

output "lb_zone_id" {
  value = aws_lb.this.zone_id
}

output "cluster_name" {
  value = aws_ecs_cluster.this.name
}

output "service_name" {
  value = aws_ecs_service.this.name
}
