# The immutable cycle on your own machine: bake the app into an artifact, run
# two replicas of it, and serve them behind a balancer on a fixed port.
#
#   kiln apply --yes                       # v1 on http://127.0.0.1:8080/
#   kiln apply --yes --var version=v2      # a new artifact and service; traffic moves once healthy
#   kiln apply --yes --var version=v3 --var healthy=false
#                                          # fails its health check: traffic stays on v2
#   kiln destroy --yes

variable "version" {
  type        = string
  default     = "v1"
  description = "The version the app answers with; baked into the artifact."
}

variable "healthy" {
  type        = bool
  default     = true
  description = "Set to false to ship a release that fails its health check."
}

variable "port" {
  type    = number
  default = 8080
}

# The build: the app's source plus its version, in a directory per version.
resource "local_file" "app" {
  path   = "build/${var.version}/app.py"
  source = "app/app.py"
}

resource "local_file" "version" {
  path    = "build/${var.version}/VERSION"
  content = var.version
}

# The image: the build directory baked into .kiln/artifacts, content-addressed.
resource "local_artifact" "web" {
  source_dir = "build/${var.version}"
  depends_on = [local_file.app, local_file.version]
}

# The instances: processes started from the artifact, health-checked.
resource "local_service" "web" {
  artifact = local_artifact.web.path
  command  = "python3"
  args     = ["app.py"]
  env = {
    HEALTHY = var.healthy ? "1" : "0"
  }
  replicas = 2

  health_check {
    path     = "/healthz"
    interval = "200ms"
    timeout  = "1s"
    retries  = 25
  }
}

# The traffic switch: its backends are run-time configuration, changed in place.
resource "local_balancer" "front" {
  listen   = "127.0.0.1:${var.port}"
  backends = [for port in local_service.web.ports : "127.0.0.1:${port}"]
}

output "url" {
  value = "http://127.0.0.1:${var.port}/"
}

output "version" {
  value = var.version
}
