"""AWS glue: lazily built boto3 clients, Secrets Manager, RDS IAM auth, CloudFormation custom resources.

Only the AWS stage uses these modules; nothing here imports boto3 until a function needs a client.
"""
