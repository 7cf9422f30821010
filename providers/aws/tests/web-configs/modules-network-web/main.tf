# A root module wiring two local modules: the network (VPC, subnets per
# zone from a map, routing) and the web tier (load balancer, template,
# group), with rules from a variable rendered by dynamic blocks.

variable "project" {
  type    = string
  default = "mod-web"
}

variable "ami" {
  type    = string
  default = "ami-1e749f67"
}

variable "ingress_rules" {
  type = list(object({
    port        = number
    description = string
    cidrs       = optional(list(string), ["0.0.0.0/0"])
  }))
  default = [
    { port = 80, description = "http" },
    { port = 443, description = "https" },
  ]
}

provider "aws" {
  region = "us-east-1"
}

module "network" {
  source  = "./modules/network"
  name    = var.project
  cidr    = "10.63.0.0/16"
  subnets = {
    a = { zone = "us-east-1a", newbits = 8, netnum = 1 }
    b = { zone = "us-east-1b", newbits = 8, netnum = 2 }
  }
}

module "web" {
  source        = "./modules/web"
  name          = var.project
  vpc_id        = module.network.vpc_id
  subnet_ids    = module.network.subnet_ids
  ami           = var.ami
  ingress_rules = var.ingress_rules
  capacity      = { min = 1, max = 3, desired = 2 }
}

output "dns_name" {
  value = module.web.dns_name
}

output "subnets" {
  value = module.network.subnet_ids
}
