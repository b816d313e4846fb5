"""Changes SmartMoving made to dispatch-relevant fields of jobs (issue 19): recorded, shown, acknowledged."""
