"""Companies (tenants): their SmartMoving credentials, the super admin's page and the company a request is about."""
