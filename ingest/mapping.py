"""The YAML mapping: which column holds what, and the rules a retailer's export needs.

A mapping names the columns of an order-line table (order id, customer, timestamp, product,
quantity, unit price, and optionally line, SKU, currency, category, channel, country and return
reason), how to read its timestamps, which codes are not products, how credit lines are
recognised, and the defaults for what the export does not have. The README's "Importing order
lines" section documents every field; `mappings/online_retail_ii.yaml` is a worked example.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.errors import MappingError
from schemas.common import OrderChannel, PaymentMethod, ReasonCode, Resolution, ReturnMethod

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")

ColumnName = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(_Strict):
    """Source column names. The six without a default are required."""

    order_id: ColumnName
    customer_id: ColumnName
    timestamp: ColumnName
    product_id: ColumnName
    quantity: ColumnName
    unit_price: ColumnName
    line: ColumnName | None = None
    sku: ColumnName | None = None
    currency: ColumnName | None = None
    category: ColumnName | None = None
    channel: ColumnName | None = None
    country: ColumnName | None = None
    return_reason: ColumnName | None = None

    def named(self) -> dict[str, str]:
        """Field name -> source column, for the columns this mapping uses."""
        return {field: column for field, column in self.model_dump().items() if column}


class TimestampRule(_Strict):
    """`format` is a strptime format (None: ISO 8601). `timezone` is the IANA zone the values
    are local times in; without one every value must carry its own offset."""

    format: str | None = None
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {zone!r}") from None
        return zone


class Defaults(_Strict):
    """What an event needs that the export may not have."""

    currency: str | None = None
    channel: OrderChannel = OrderChannel.WEB
    category: Annotated[str, Field(min_length=1, max_length=128)] = "uncategorised"
    country: str = "ZZ"
    payment_method: PaymentMethod = PaymentMethod.OTHER
    reason_code: ReasonCode = ReasonCode.OTHER
    return_method: ReturnMethod = ReturnMethod.MAIL
    preferred_resolution: Resolution = Resolution.REFUND

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, code: str | None) -> str | None:
        if code is not None and not _CURRENCY.match(code):
            raise ValueError(f"expected an ISO 4217 code such as GBP, got {code!r}")
        return code

    @field_validator("country")
    @classmethod
    def _iso_country(cls, code: str) -> str:
        if not _COUNTRY.match(code):
            raise ValueError(f"expected an ISO 3166-1 alpha-2 code such as GB, got {code!r}")
        return code


class Values(_Strict):
    """Source value -> contract value, per field; a value missing here passes through when it
    is already valid for its field, else the field's default is used (and counted)."""

    country: dict[str, str] = Field(default_factory=dict)
    channel: dict[str, OrderChannel] = Field(default_factory=dict)
    return_reason: dict[str, ReasonCode] = Field(default_factory=dict)
    currency: dict[str, str] = Field(default_factory=dict)

    @field_validator("country")
    @classmethod
    def _iso_countries(cls, codes: dict[str, str]) -> dict[str, str]:
        bad = [f"{k!r}: {v!r}" for k, v in codes.items() if not _COUNTRY.match(v)]
        if bad:
            raise ValueError(f"expected ISO 3166-1 alpha-2 codes, got {', '.join(bad[:3])}")
        return codes

    @field_validator("currency")
    @classmethod
    def _iso_currencies(cls, codes: dict[str, str]) -> dict[str, str]:
        bad = [f"{k!r}: {v!r}" for k, v in codes.items() if not _CURRENCY.match(v)]
        if bad:
            raise ValueError(f"expected ISO 4217 codes, got {', '.join(bad[:3])}")
        return codes


class NonProduct(_Strict):
    """Lines that are not products (postage, fees, adjustments) are excluded and counted:
    a code in `codes` (compared without case), or a code that does not match
    `product_pattern` (a regular expression matched at the start of the code)."""

    codes: list[str] = Field(default_factory=list)
    product_pattern: str | None = None

    @field_validator("product_pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return pattern


class CreditLines(_Strict):
    """A line is a credit (a return) when its order id starts with `order_id_prefix`, or, with
    `negative_quantity`, when its quantity is negative. At least one rule must be set."""

    order_id_prefix: Annotated[str, Field(min_length=1)] | None = None
    negative_quantity: bool = False

    @model_validator(mode="after")
    def _a_rule(self) -> CreditLines:
        if self.order_id_prefix is None and not self.negative_quantity:
            raise ValueError("set order_id_prefix, negative_quantity: true, or both")
        return self


class Returns(_Strict):
    credit_lines: CreditLines


class Mapping(_Strict):
    """A whole mapping file."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    encoding: str = "utf-8"
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    columns: Columns
    timestamp: TimestampRule = Field(default_factory=TimestampRule)
    defaults: Defaults = Field(default_factory=Defaults)
    values: Values = Field(default_factory=Values)
    non_product: NonProduct = Field(default_factory=NonProduct)
    returns: Returns

    @model_validator(mode="after")
    def _currency_known(self) -> Mapping:
        if self.columns.currency is None and self.defaults.currency is None:
            raise ValueError("name a currency column or set defaults.currency")
        return self


PACKAGED = Path(__file__).with_name("mappings")
"""The mappings shipped with the package (package data, see pyproject.toml)."""


def packaged_mappings() -> list[str]:
    """Names of the mappings shipped with the package (`online_retail_ii`, ...)."""
    return sorted(p.stem for p in PACKAGED.glob("*.yaml"))


def load_mapping(spec: str | Path) -> Mapping:
    """Load a mapping from a file, or a packaged one by name (`online_retail_ii`)."""
    path = Path(spec)
    if path.is_file():
        text, where = _read(path), str(path)
    elif str(spec) in packaged_mappings():
        text = (PACKAGED / f"{spec}.yaml").read_text(encoding="utf-8")
        where = f"packaged mapping {spec}"
    else:
        known = ", ".join(packaged_mappings())
        raise MappingError(f"{spec}: no such mapping file (packaged mappings: {known})")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{where}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: expected a mapping of fields, as the README describes")
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(mapping)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise MappingError(f"{where}: {'; '.join(problems)}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not a UTF-8 text file") from None
