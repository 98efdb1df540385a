"""The run machinery: controller, runner, conductor, worker, pool, approvals."""
