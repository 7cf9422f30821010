# A whole platform as one immutable environment: a VPC across two zones
# (two public and four private subnets, a NAT gateway per zone), two ECS
# clusters on Auto Scaling groups of container hosts, each running a
# service behind its load balancer, and private DNS so that the services
# find each other by name.
#
#   kiln apply --yes                                   # stand it up
#   kiln apply --yes --var backend_image=api:2.0       # a new task definition and
#                                                      # service generation, health-gated
#   kiln apply --yes --var backend_desired=3           # run-time: changed in place
#   kiln apply --yes --rebuild --keep-previous         # a whole new generation beside
#   kiln rollback --yes                                # ... and back
#   kiln --env pr-7 apply --yes --ttl 2h               # an isolated copy; `kiln env gc`
#   kiln destroy --yes --allow-destroy aws_route53_zone.internal
#
# The default AMI exists in moto, the local AWS emulator the tests use; on a
# real account pass an ECS-optimized AMI (see the README).

variable "name" {
  type    = string
  default = "platform"
}

variable "host_ami" {
  type        = string
  default     = "ami-1e749f67"
  description = "The image of the container hosts (an ECS-optimized AMI on AWS)."
}

variable "frontend_image" {
  type    = string
  default = "public.ecr.aws/nginx/nginx:1.27"
}

variable "backend_image" {
  type    = string
  default = "public.ecr.aws/docker/library/httpd:2.4"
}

variable "frontend_desired" {
  type    = number
  default = 2
}

variable "backend_desired" {
  type    = number
  default = 2
}

provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = {
      Platform = var.name
    }
  }
}

module "network" {
  source = "./modules/network"
  name   = var.name
  cidr   = "10.80.0.0/16"
  zones  = ["us-east-1a", "us-east-1b"]
}

# The container hosts' role: ECS agent permissions, from a policy document.
data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "ecs_agent" {
  statement {
    actions = [
      "ecs:CreateCluster",
      "ecs:DeregisterContainerInstance",
      "ecs:DiscoverPollEndpoint",
      "ecs:Poll",
      "ecs:RegisterContainerInstance",
      "ecs:StartTelemetrySession",
      "ecs:Submit*",
      "ecr:GetAuthorizationToken",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role" "hosts" {
  name_prefix        = "${var.name}-hosts-"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
}

resource "aws_iam_role_policy" "ecs_agent" {
  name   = "ecs-agent"
  role   = aws_iam_role.hosts.id
  policy = data.aws_iam_policy_document.ecs_agent.json
}

resource "aws_iam_instance_profile" "hosts" {
  name_prefix = "${var.name}-hosts-"
  role        = aws_iam_role.hosts.name
}

module "frontend" {
  source           = "./modules/ecs-service"
  name             = "${var.name}-front"
  vpc_id           = module.network.vpc_id
  lb_subnet_ids    = module.network.public_subnet_ids
  host_subnet_ids  = module.network.private_app_subnet_ids
  internal         = false
  lb_ingress_cidrs = ["0.0.0.0/0"]
  host_ami         = var.host_ami
  instance_profile = aws_iam_instance_profile.hosts.name
  image            = var.frontend_image
  container_port   = 80
  desired          = var.frontend_desired
  environment = {
    BACKEND_URL = "http://api.${var.name}.internal"
  }
}

module "backend" {
  source           = "./modules/ecs-service"
  name             = "${var.name}-back"
  vpc_id           = module.network.vpc_id
  lb_subnet_ids    = module.network.private_app_subnet_ids
  host_subnet_ids  = module.network.private_data_subnet_ids
  internal         = true
  lb_ingress_cidrs = [module.network.cidr]
  host_ami         = var.host_ami
  instance_profile = aws_iam_instance_profile.hosts.name
  image            = var.backend_image
  container_port   = 8080
  desired          = var.backend_desired
  environment = {
    MODE = "production"
  }
}

# Private DNS: the services find each other by name inside the VPC.
resource "aws_route53_zone" "internal" {
  name = "${var.name}.internal"
  vpc {
    vpc_id = module.network.vpc_id
  }
}

resource "aws_route53_record" "api" {
  zone_id = aws_route53_zone.internal.zone_id
  name    = "api.${var.name}.internal"
  type    = "A"
  alias {
    name                   = module.backend.lb_dns_name
    zone_id                = module.backend.lb_zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "web" {
  zone_id = aws_route53_zone.internal.zone_id
  name    = "web.${var.name}.internal"
  type    = "A"
  alias {
    name                   = module.frontend.lb_dns_name
    zone_id                = module.frontend.lb_zone_id
    evaluate_target_health = true
  }
}

output "url" {
  value = "http://${module.frontend.lb_dns_name}/"
}

output "api_name" {
  value = aws_route53_record.api.fqdn
}

output "nat_ips" {
  value = module.network.nat_ips
}
