# The sandbox AWS workspace: a bucket with tags, a VPC with a security group, two IAM roles.
# It runs against a local AWS emulator (moto) whose URL is var.endpoint, with test credentials.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint" {
  type        = string
  description = "The AWS API to talk to (the local emulator)."
}

variable "prefix" {
  type    = string
  default = "shipmate-sandbox"
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {
    s3  = var.endpoint
    ec2 = var.endpoint
    iam = var.endpoint
    sts = var.endpoint
  }
}

resource "aws_s3_bucket" "artifacts" {
  bucket = "${var.prefix}-artifacts"
  tags = {
    team    = "payments"
    service = "checkout"
  }
}

resource "aws_vpc" "main" {
  cidr_block = "10.42.0.0/16"
  tags = {
    Name = "${var.prefix}-vpc"
  }
}

resource "aws_security_group" "web" {
  name        = "${var.prefix}-web"
  description = "HTTPS from the office network"
  vpc_id      = aws_vpc.main.id

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = {
    service = "checkout"
  }
}

locals {
  assume_ec2 = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role" "deployer" {
  name               = "${var.prefix}-deployer"
  description        = "Deploys checkout"
  assume_role_policy = local.assume_ec2
  tags = {
    service = "checkout"
  }
}

resource "aws_iam_role" "reader" {
  name               = "${var.prefix}-reader"
  description        = "Reads checkout's artifacts"
  assume_role_policy = local.assume_ec2
}
