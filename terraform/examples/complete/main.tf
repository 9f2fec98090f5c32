provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project = "stepscore"
    }
  }
}

# The default VPC keeps the example self-contained; production deployments pass private subnets
# (with a NAT gateway or VPC endpoints) and their own security group.
data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
}

resource "aws_security_group" "batch" {
  name        = "${var.name}-batch"
  description = "Scoring jobs: no inbound, HTTPS out to S3, ECR, ECS and CloudWatch Logs"
  vpc_id      = data.aws_vpc.default.id

  egress {
    description = "HTTPS to AWS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

module "stepscore" {
  source = "../.."

  name = var.name

  lambda_artifacts_dir = "${path.root}/../../../target/lambda"

  batch_compute_type = var.batch_compute_type
  batch_image_tag    = var.batch_image_tag
  batch_max_vcpus    = 32
  subnet_ids         = data.aws_subnets.default.ids
  security_group_ids = [aws_security_group.batch.id]

  alarm_emails = var.alarm_emails

  # Table and bucket survive `terraform destroy` unless these are flipped first (docs/deploy.md).
  table_deletion_protection = true
  bucket_force_destroy      = false

  schedules = {
    nightly-churn = {
      expression  = "cron(0 2 * * ? *)"
      timezone    = "Europe/Dublin"
      description = "Score yesterday's customers with the current churn model"
      template = jsonencode({
        version = 1
        id      = "nightly-churn-{date}"
        model   = "s3://{bucket}/models/churn/model.json"
        input   = "s3://{bucket}/inputs/customers/{date}.csv"
        output  = "s3://{bucket}/outputs/churn/{date}/"
      })
    }
  }

  tags = {
    Environment = "example"
  }
}
