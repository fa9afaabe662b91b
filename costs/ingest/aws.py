"""boto3 clients for a cost source: its own settings, or the standard AWS credential chain.

Credentials are never logged or put in a message: errors are reduced to AWS's error code and
message (:func:`costs.ingest.readers._aws_reason`).
"""

import boto3
from botocore.config import Config

# Cost Explorer has one endpoint, in us-east-1.
COST_EXPLORER_REGION = "us-east-1"
RETRIES = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=120)


def session_for(source) -> boto3.session.Session:
    options = {}
    if source.access_key_id and source.secret_access_key:
        options.update(aws_access_key_id=source.access_key_id, aws_secret_access_key=source.secret_access_key)
    if source.aws_region:
        options["region_name"] = source.aws_region
    session = boto3.session.Session(**options)
    if not source.role_arn:
        return session
    sts = session.client("sts", endpoint_url=source.endpoint_url or None, config=RETRIES)
    assume = {"RoleArn": source.role_arn, "RoleSessionName": "propylon-cost-import"}
    if source.external_id:
        assume["ExternalId"] = source.external_id
    credentials = sts.assume_role(**assume)["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=source.aws_region or None,
    )


def client_for(source, service: str):
    session = session_for(source)
    region = source.aws_region or (COST_EXPLORER_REGION if service == "ce" else None)
    return session.client(
        service, endpoint_url=source.endpoint_url or None, region_name=region, config=RETRIES
    )
