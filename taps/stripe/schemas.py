"""JSON Schemas of the Stripe streams, written from the API reference's object definitions.

As singer-io tap-stripe emits them: unix-second timestamps as date-time strings
(``2024-01-01T00:00:00.000000Z``), amounts as integers in the currency's smallest unit,
``metadata`` as an object of strings, expandable references as their ID, the lists of a customer's
subscriptions, a subscription's items and an invoice's lines as their IDs, and two fields of the
tap's own: ``updated`` (the object's ``created``, or the time of the event that changed it) and
``updated_by_event_type`` (that event's type, for a record that came from the events stream).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS", "TIME_FIELDS"]


def _n(*types: str, **extra: Any) -> dict[str, Any]:
    return {"type": [*types, "null"], **extra}


def _obj(**props: Any) -> dict[str, Any]:
    return _n("object", properties=props)


STR, INT, BOOL, NUM = _n("string"), _n("integer"), _n("boolean"), _n("string", "number")
TIME = _n("string", format="date-time")
STRS = _n("array", items={"type": "string"})
METADATA = _n("object", additionalProperties={"type": "string"})
ADDRESS = _obj(line1=STR, line2=STR, city=STR, state=STR, postal_code=STR, country=STR)
SHIPPING = _obj(address=ADDRESS, name=STR, phone=STR, carrier=STR, tracking_number=STR)
COUPON = _obj(id=STR, object=STR, amount_off=INT, currency=STR, duration=STR, duration_in_months=INT,
              name=STR, percent_off=_n("number"), valid=BOOL, created=TIME, metadata=METADATA)
DISCOUNT = _obj(id=STR, object=STR, coupon=COUPON, customer=STR, start=TIME, end=TIME, subscription=STR,
                invoice=STR, promotion_code=STR)
RECURRING = _obj(interval=STR, interval_count=INT, usage_type=STR, aggregate_usage=STR)
PRICE_PROPS: dict[str, Any] = {
    "id": STR, "object": STR, "active": BOOL, "billing_scheme": STR, "created": TIME, "currency": STR,
    "livemode": BOOL, "lookup_key": STR, "metadata": METADATA, "nickname": STR, "product": STR,
    "recurring": RECURRING, "tax_behavior": STR, "tiers_mode": STR, "type": STR, "unit_amount": INT,
    "unit_amount_decimal": STR,
}
OUTCOME = _obj(network_status=STR, reason=STR, risk_level=STR, risk_score=INT, seller_message=STR, type=STR)
CARD = _obj(brand=STR, country=STR, exp_month=INT, exp_year=INT, fingerprint=STR, funding=STR, last4=STR,
            network=STR)
TRANSITIONS = _obj(finalized_at=TIME, marked_uncollectible_at=TIME, paid_at=TIME, voided_at=TIME)
_TAP = {"updated": TIME, "updated_by_event_type": STR}


def _schema(**props: Any) -> dict[str, Any]:
    """A stream's schema: ``id`` never null, the tap's own fields added."""
    properties = {**props, **_TAP}
    properties["id"] = {"type": "string"}
    return {"type": "object", "properties": properties}


SCHEMAS: dict[str, dict[str, Any]] = {
    "customers": _schema(
        id=STR, object=STR, address=ADDRESS, balance=INT, created=TIME, currency=STR, default_source=STR,
        delinquent=BOOL, description=STR, discount=DISCOUNT, email=STR, invoice_prefix=STR, livemode=BOOL,
        metadata=METADATA, name=STR, next_invoice_sequence=INT, phone=STR, preferred_locales=STRS,
        shipping=SHIPPING, tax_exempt=STR, subscriptions=STRS),
    "charges": _schema(
        id=STR, object=STR, amount=INT, amount_captured=INT, amount_refunded=INT, application_fee_amount=INT,
        balance_transaction=STR, billing_details=_obj(address=ADDRESS, email=STR, name=STR, phone=STR),
        captured=BOOL, created=TIME, currency=STR, customer=STR, description=STR, disputed=BOOL,
        failure_code=STR, failure_message=STR, invoice=STR, livemode=BOOL, metadata=METADATA, outcome=OUTCOME,
        paid=BOOL, payment_intent=STR, payment_method=STR,
        payment_method_details=_obj(type=STR, card=CARD), receipt_email=STR, receipt_number=STR,
        receipt_url=STR, refunded=BOOL, shipping=SHIPPING, statement_descriptor=STR, status=STR),
    "invoices": _schema(
        id=STR, object=STR, account_country=STR, account_name=STR, amount_due=INT, amount_paid=INT,
        amount_remaining=INT, attempt_count=INT, attempted=BOOL, auto_advance=BOOL, billing_reason=STR,
        charge=STR, collection_method=STR, created=TIME, currency=STR, customer=STR, customer_email=STR,
        customer_name=STR, description=STR, discount=DISCOUNT, due_date=TIME, ending_balance=INT,
        hosted_invoice_url=STR, invoice_pdf=STR, lines=STRS, livemode=BOOL, metadata=METADATA,
        next_payment_attempt=TIME, number=STR, paid=BOOL, payment_intent=STR, period_end=TIME,
        period_start=TIME, starting_balance=INT, status=STR, status_transitions=TRANSITIONS, subscription=STR,
        subtotal=INT, tax=INT, total=INT, webhooks_delivered_at=TIME),
    "subscriptions": _schema(
        id=STR, object=STR, application_fee_percent=_n("number"), billing_cycle_anchor=TIME,
        cancel_at=TIME, cancel_at_period_end=BOOL, canceled_at=TIME, collection_method=STR, created=TIME,
        current_period_end=TIME, current_period_start=TIME, customer=STR, days_until_due=INT,
        default_payment_method=STR, discount=DISCOUNT, ended_at=TIME, items=STRS,
        latest_invoice=STR, livemode=BOOL, metadata=METADATA, quantity=INT, start_date=TIME, status=STR,
        trial_end=TIME, trial_start=TIME),
    "products": _schema(
        id=STR, object=STR, active=BOOL, created=TIME, default_price=STR, description=STR, images=STRS,
        livemode=BOOL, metadata=METADATA, name=STR, shippable=BOOL, statement_descriptor=STR, tax_code=STR,
        type=STR, unit_label=STR, url=STR),
    "prices": _schema(**PRICE_PROPS),
    "payment_intents": _schema(
        id=STR, object=STR, amount=INT, amount_capturable=INT, amount_received=INT, application=STR,
        application_fee_amount=INT, canceled_at=TIME, cancellation_reason=STR, capture_method=STR,
        confirmation_method=STR, created=TIME, currency=STR, customer=STR, description=STR, invoice=STR,
        last_payment_error=_obj(code=STR, message=STR, type=STR, decline_code=STR), latest_charge=STR,
        livemode=BOOL, metadata=METADATA, payment_method=STR, payment_method_types=STRS, receipt_email=STR,
        setup_future_usage=STR, statement_descriptor=STR, status=STR),
    "events": _schema(
        id=STR, object=STR, api_version=STR, created=TIME,
        data=_obj(object={"type": "object"}, previous_attributes=_n("object")), livemode=BOOL,
        pending_webhooks=INT, request=_obj(id=STR, idempotency_key=STR), type=STR),
}


def _time_paths(props: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths of the date-time fields (inside objects, not arrays) of a schema's properties."""
    paths: list[tuple[str, ...]] = []
    for name, prop in props.items():
        if prop.get("format") == "date-time":
            paths.append((*prefix, name))
        elif "object" in prop.get("type", ()) and "properties" in prop:
            paths.extend(_time_paths(prop["properties"], (*prefix, name)))
    return paths


#: per stream, the paths of the timestamps the API sends as unix seconds
TIME_FIELDS: dict[str, list[tuple[str, ...]]] = {
    name: [p for p in _time_paths(schema["properties"]) if p[0] != "updated"] for name, schema in SCHEMAS.items()}
