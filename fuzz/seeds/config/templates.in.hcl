locals {
  list = "%{ for x in ["a", "b"] }${x}{%{ endfor }"
    n = <<EOT
  ${upper("}")} {
EOT
  obj = {
  "quoted key" = 1
    k = "v"
  }
  /* a block
     comment */
  after = (1 +
    2)
}
