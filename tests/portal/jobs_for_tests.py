"""Jobs that exist only in the test suite, to exercise the job machinery's edge cases."""

from portal.jobs import JobContext, JobInputError, job


@job(name="tests.count_to", label="Count to a number", on_demand=False)
def count_to(run: JobContext, *, target: int) -> dict:
    for step in range(1, target + 1):
        run.progress(100 * step / target, f"Counted {step} of {target}")
    run.log(f"Counted to {target}.")
    return {"counted": target}


@job(name="tests.explode", label="Explode")
def explode(run: JobContext, *, how: str) -> dict:
    if how == "input":
        raise JobInputError("The file 'costs.csv' has no BilledCost column.")
    raise RuntimeError("database password is hunter2")  # a secret-looking internal detail


@job(name="tests.cancel_myself", label="Cancel myself")
def cancel_myself(run: JobContext) -> dict:
    from portal.jobs import cancel

    cancel(run.run)
    run.progress(50, "This raises JobCancelled")
    return {"unreachable": True}
