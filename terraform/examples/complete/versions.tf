terraform {
  required_version = ">= 1.6"

  # A root module pins the exact provider release it was planned with, and commits the
  # .terraform.lock.hcl that `terraform init` writes beside it (docs/deploy.md, "Pin the
  # provider"); the reusable module in ../.. only bounds the major version.
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 6.32.1"
    }
  }
}
