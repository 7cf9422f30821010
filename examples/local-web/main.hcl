# The immutable cycle on your own machine: bake the app into an artifact, run
# two replicas of it, and serve them behind a balancer on a fixed port.
#
#   kiln apply --yes                       # v1 on http://127.0.0.1:8080/
#   kiln apply --yes --var version=v2      # a new artifact and service; once healthy, traffic
#                                          # moves to it by the balancer's cutover steps
#   kiln apply --yes --var version=v3 --var healthy=false
#                                          # fails its health check: traffic stays on v2
#   kiln apply --yes --var version=v4 --var fail_every=10
#                                          # healthy, but 1 request in 10 fails: the first
#                                          # cutover step's check stops it, traffic goes back
#   kiln destroy --yes
#
# README.md walks through it.

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

variable "fail_every" {
  type        = number
  default     = 0
  description = "Set to n to ship a release that answers every n-th request with 500 (0: never)."
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
    HEALTHY    = var.healthy ? "1" : "0"
    FAIL_EVERY = tostring(var.fail_every)
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

  # A new generation gets 10% of requests, then 50%, then all of them; each
  # hold measures the share of 5xx answers it gives. Above 5% (once it has
  # answered 20 requests), every request goes back to the old generation and
  # the apply rolls back. A first apply has nothing to shift from: 100% at once.
  cutover {
    step {
      weight = 10
      hold   = "2s"
    }
    step {
      weight = 50
      hold   = "2s"
    }
    check {
      metric       = "error_rate"
      max          = 0.05
      min_requests = 20
      interval     = "200ms"
    }
  }
}

output "url" {
  value = "http://127.0.0.1:${var.port}/"
}

output "version" {
  value = var.version
}
