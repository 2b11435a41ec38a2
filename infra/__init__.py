"""Build-time tools for the AWS deployment (never packaged into the Lambda functions)."""
