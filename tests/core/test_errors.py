"""The one error hierarchy: each kind carries its HTTP status, slug and exit code."""

from __future__ import annotations

from borealis.core import errors


def test_every_error_is_a_borealis_error_with_a_4xx_or_5xx() -> None:
    kinds = [
        errors.InvalidInput,
        errors.NotAuthenticated,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
        errors.PayloadTooLarge,
        errors.EnrollmentRefused,
        errors.ConfigError,
        errors.ProtocolError,
        errors.TransientError,
    ]
    for kind in kinds:
        error = kind("what happened", field="x")
        assert isinstance(error, errors.BorealisError)
        assert error.detail == "what happened" and str(error) == "what happened"
        assert error.extra == {"field": "x"}
        assert 400 <= error.status < 600 and error.slug and error.title
    assert [k.status for k in kinds[:7]] == [400, 401, 403, 404, 409, 413, 403]


def test_only_transient_errors_are_retryable() -> None:
    assert errors.TransientError("x").retryable
    assert not errors.InvalidInput("x").retryable


def test_exit_codes_tell_bad_input_from_failure() -> None:
    assert errors.InvalidInput("x").exit_code == 2
    assert errors.ConfigError("x").exit_code == 2
    assert errors.Conflict("x").exit_code == 1


def test_protocol_errors_carry_a_close_code() -> None:
    assert errors.ProtocolError("x").close_code == 1008
    assert errors.ProtocolError("x", close_code=4401).close_code == 4401
