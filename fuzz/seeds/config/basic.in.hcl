

variable "name" {
    type = string
  default="web"   
}
resource "null_resource" "a" {


  triggers = { name = var.name }
    labels={
      team = "core"
      environment  =   "prod"
    }
  count = 2 # two of them

  lifecycle {
    prevent_destroy = false
  }
}



# a comment = not an attribute
output "x" {
  value = <<-EOT
      keep   this
    as = is
  EOT
  description = "it's ${join(",", ["a", "}"])} {"
}
locals {
  a = [
      1,
    2,
  ]
  bb = "x" // trailing
}
