terraform {
  required_version = ">= 1.9.0"

  required_providers {
    # 5.100 too: the module is validated and tested offline with the provider packaged
    # for the project's machines (/opt/tf-plugins); deployments use 6.x (examples/complete).
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}
