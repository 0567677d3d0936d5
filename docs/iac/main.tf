# Terraform (AWS provider): a Node.js function protected by AppDefender.

variable "appdefender_layer_version" {
  description = "The latest AppDefender layer version published in the region (docs/lambda.md)"
  type        = number
  default     = 5
}

variable "appdefender_policy_group" {
  type    = string
  default = "payments-strict"
}

data "aws_region" "current" {}

data "aws_ssm_parameter" "appdefender_license_key" {
  name = "/appdefender/license-key"
}

locals {
  # arm64 functions need the -arm64 layer; x86_64 functions the plain Extrinsec-Appdefender.
  appdefender_layer_arn = "arn:aws:lambda:${data.aws_region.current.name}:201476247173:layer:Extrinsec-Appdefender-arm64:${var.appdefender_layer_version}"
}

resource "aws_lambda_function" "checkout" {
  function_name = "checkout"
  role          = aws_iam_role.checkout.arn
  runtime       = "nodejs22.x"
  architectures = ["arm64"]
  handler       = "index.handler"
  filename      = "dist/checkout.zip"
  layers        = [local.appdefender_layer_arn]

  environment {
    variables = {
      AWS_LAMBDA_EXEC_WRAPPER = "/opt/appdefender_wrapper"
      ES_LICENSE_KEY          = data.aws_ssm_parameter.appdefender_license_key.value
      ES_POLICY_GROUP_NAME    = var.appdefender_policy_group
      # Self-hosted control plane only:
      # ES_API_URL = "https://appdefender.example.com"
    }
  }
}

resource "aws_iam_role" "checkout" {
  name = "checkout"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}
