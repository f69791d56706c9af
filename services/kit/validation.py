"""Input rules shared by every service; each failure names its field."""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

from services.kit.errors import FieldProblem, validation_failed

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOCALE_PATTERN = re.compile(r"^[a-z]{2,3}([-_][A-Za-z]{2,4})?$")

# ISO 3166-1 alpha-2, officially assigned codes.
ISO_COUNTRIES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC
    EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK
    HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB
    LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU
    RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN
    TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split()
)


# ISO 4217 active currency codes.
ISO_CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK
    SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS
    VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split()
)


@cache
def iana_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class Checker:
    """Collects every problem of one input, then raises them together as VALIDATION_FAILED."""

    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []

    def fail(self, field: str, message: str, code: str = "invalid") -> None:
        self.problems.append(FieldProblem(field, message, code))

    def text(
        self,
        field: str,
        value: str,
        *,
        required: bool = True,
        max_len: int = 255,
        min_len: int = 0,
    ) -> str:
        value = value.strip()
        if not value:
            if required:
                self.fail(field, f"The {field} field is required.", "required")
            return value
        if len(value) > max_len:
            self.fail(
                field,
                f"The {field} may not be longer than {max_len} characters.",
                "too_long",
            )
        elif len(value) < min_len:
            self.fail(
                field,
                f"The {field} must be at least {min_len} characters.",
                "too_short",
            )
        return value

    def email(self, field: str, value: str) -> str:
        value = self.text(field, value)
        if value and not EMAIL_PATTERN.match(value):
            self.fail(field, f"The {field} must be a valid email address.", "email")
        return value

    def country(self, field: str, value: str) -> str:
        code = value.strip().upper()
        if code not in ISO_COUNTRIES:
            self.fail(
                field,
                f"The {field} must be an ISO 3166-1 alpha-2 country code.",
                "country",
            )
        return code

    def timezone(self, field: str, value: str) -> str:
        value = value.strip()
        if value not in iana_timezones():
            self.fail(
                field,
                f"The {field} must be an IANA time zone, e.g. Europe/Lisbon.",
                "timezone",
            )
        return value

    def currency(self, field: str, value: str) -> str:
        code = value.strip().upper()
        if code not in ISO_CURRENCIES:
            self.fail(
                field, f"The {field} must be an ISO 4217 code such as BRL or EUR.", "currency"
            )
        return code

    def locale(self, field: str, value: str) -> str:
        value = value.strip()
        if not LOCALE_PATTERN.match(value):
            self.fail(
                field,
                f"The {field} must be a language tag such as pt or pt-BR.",
                "locale",
            )
        return value

    def done(self) -> None:
        if self.problems:
            raise validation_failed(self.problems)
