provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project = "stepscore"
    }
  }
}

data "aws_caller_identity" "current" {}

locals {
  # Named here rather than read from the module, so the schedule templates can use it.
  bucket_name = "${var.name}-${data.aws_caller_identity.current.account_id}-${var.region}"
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

  name        = var.name
  bucket_name = local.bucket_name

  lambda_package_type  = var.lambda_package_type
  lambda_image_tag     = var.lambda_image_tag
  lambda_artifacts_dir = "${path.root}/../../../target/lambda"

  # online predictions behind an HTTP API, when a model is named
  predict_model_uri = var.predict_model_uri

  # batch jobs over HTTP: POST /jobs -> SQS -> intake, with a dead-letter queue
  jobs_api_enabled = var.jobs_api_enabled

  batch_compute_type = var.batch_compute_type
  batch_image_tag    = var.batch_image_tag
  batch_max_vcpus    = 32
  subnet_ids         = data.aws_subnets.default.ids
  security_group_ids = [aws_security_group.batch.id]
  # Default-VPC subnets are public and have no NAT gateway: Fargate tasks need a public IP to
  # reach ECR and S3 (EC2 instances get one from the subnet).
  batch_assign_public_ip = true

  alarm_emails        = var.alarm_emails
  notification_emails = var.notification_emails

  # Table, bucket and image repositories survive `terraform destroy` unless allow_destroy was
  # applied first (docs/deploy.md, "Teardown").
  table_deletion_protection = !var.allow_destroy
  bucket_force_destroy      = var.allow_destroy
  ecr_force_delete          = var.allow_destroy

  schedules = {
    nightly-churn = {
      expression  = "cron(0 2 * * ? *)"
      timezone    = "Europe/Dublin"
      description = "Score yesterday's customers with the current churn model"
      # Off until models/churn/model.json and the day's inputs/customers/<date>.csv exist in the
      # bucket: a run without them fails (and alarms) every night.
      enabled = var.enable_example_schedule
      # Filled by the schedule function at each run ({{date}}: the run's date, YYYY-MM-DD; also {{time}}, {{run_id}}, {{scheduled_time}}).
      template = jsonencode({
        version  = 1
        name     = "nightly-churn"
        model    = "s3://${local.bucket_name}/models/churn/model.json"
        input    = "s3://${local.bucket_name}/inputs/customers/{{date}}.csv"
        output   = "s3://${local.bucket_name}/outputs/churn/{{date}}/"
        capacity = "spot-then-on-demand"
      })
    }
  }

  tags = {
    Environment = "example"
  }
}
