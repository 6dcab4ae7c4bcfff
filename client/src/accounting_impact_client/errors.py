"""What the client raises. Every refusal of the contract (a document or a call the workers
would refuse) is a :class:`ContractError`: the caller's input is wrong, sending it again
changes nothing."""

from __future__ import annotations


class ContractError(ValueError):
    """The input breaks the contract: a document, a call or a value the workers refuse."""


class UnknownCurrency(ContractError):
    """A currency code that is not an active ISO 4217 code with a minor unit."""


class TooManyDocuments(ContractError):
    """More documents in one call than its limit: split the call."""


class CallTooLarge(ContractError):
    """The call is beyond a limit of a whole call: it is refused whole, nothing is stored."""


class NotAccepted(Exception):
    """No stored confirmation of a sync came within the time the caller gave: the documents
    may or may not be stored; sending the same call again (same job id) is safe."""


class CallFailed(Exception):
    """The workers refused the call as a whole (an unknown organization, a call they cannot
    take): the error names why; nothing was stored."""

    def __init__(self, job_id: str, error: str, message: str) -> None:
        super().__init__(f"job {job_id}: {error}: {message}")
        self.job_id = job_id
        self.error = error
        self.message = message
