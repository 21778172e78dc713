"""Calls every operation of the engine's OpenAPI document and validates each request and answer
against the document with openapi-core (pip openapi-core, requests).

Usage: openapi_check.py BASE_URL AUTHORIZATION
Prints one line per call, then a JSON summary line; exits 1 when anything does not match.
"""
import json
import sys

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

BASE, AUTH = sys.argv[1], sys.argv[2]


class Response(RequestsOpenAPIResponse):
    """An answer whose text bodies (CSV) are validated as the strings the document says."""

    @property
    def data(self):
        data = super().data
        if isinstance(data, bytes) and self.content_type.startswith("text/"):
            return data.decode()
        return data


BOOKING = {
    "booking_id": 9400001, "customer_id": 1, "tour_id": 1, "channel": "B2C",
    "status": "confirmed", "price_paid": 80.0, "commission": 0, "travelers": 1,
    "unit_price": 80.0, "price_index": 1.0, "created_at": "2026-06-30T09:00:00",
    "travel_date": "2026-08-01",
}

# (method, path template, concrete path, body, content type, extra headers, auth)
CALLS = [
    ("get", "/api/analytics/dashboard/metrics", "/api/analytics/dashboard/metrics", None, None, {}, True),
    ("get", "/api/analytics/dashboard/revenue-summary", "/api/analytics/dashboard/revenue-summary?days=7", None, None, {}, True),
    ("get", "/api/analytics/dashboard/ai-agents-status", "/api/analytics/dashboard/ai-agents-status", None, None, {}, True),
    ("post", "/api/analytics/reports/generate", "/api/analytics/reports/generate",
     {"report_type": "SALES_PIPELINE", "title": "Pipeline this week", "days": 7}, "application/json", {}, True),
    ("post", "/api/analytics/reports/schedule", "/api/analytics/reports/schedule",
     {"report_type": "FINANCIAL_SUMMARY", "frequency": "WEEKLY", "recipients": ["cfo@example.com"],
      "options": {"at": "07:00", "timezone": "Europe/Berlin"}}, "application/json", {}, True),
    ("get", "/api/analytics/reports/scheduled", "/api/analytics/reports/scheduled", None, None, {}, True),
    ("post", "/api/analytics/predictions/generate", "/api/analytics/predictions/generate",
     {"prediction_type": "CHURN_RISK"}, "application/json", {}, True),
    ("get", "/api/analytics/predictions/revenue-forecast", "/api/analytics/predictions/revenue-forecast?days=7", None, None, {}, True),
    ("get", "/api/analytics/predictions/churn-risk", "/api/analytics/predictions/churn-risk", None, None, {}, True),
    ("get", "/api/analytics/kpis/overview", "/api/analytics/kpis/overview", None, None, {}, True),
    ("get", "/api/analytics/kpis/overview", "/api/analytics/kpis/overview", None, None, {}, False),
    ("get", "/api/analytics/kpis/ai-agents", "/api/analytics/kpis/ai-agents", None, None, {}, True),
    ("get", "/api/analytics/config/dashboard", "/api/analytics/config/dashboard", None, None, {}, True),
    ("get", "/api/analytics/health", "/api/analytics/health", None, None, {}, False),
    ("post", "/api/sql", "/api/sql", {"sql": "SELECT * FROM metrics.kpi_overview"}, "application/json", {}, True),
    ("post", "/api/sql", "/api/sql", "SELECT kpi, value FROM metrics.kpi_overview", "text/plain", {"Accept": "text/csv"}, True),
    ("post", "/api/sql", "/api/sql", "SELECT FROM WHERE", "text/plain", {}, True),
    ("post", "/api/ingest/{table}", "/api/ingest/bookings", json.dumps(BOOKING) + "\n", "application/x-ndjson", {}, True),
    ("post", "/api/ingest/{table}", "/api/ingest/bookings", "{\"booking_id\": \"x\"}\n", "application/x-ndjson", {}, True),
    ("post", "/api/auth/token", "/api/auth/token", None, None, {}, True),
]

spec = requests.get(BASE + "/api/openapi.json", timeout=30).json()
api = OpenAPI.from_dict(spec)
documented = {(m, p) for p, item in spec["paths"].items() for m in item}
# The WebSocket is exercised by the Rust tests with a WebSocket client.
websocket = {("get", "/api/analytics/dashboard/realtime")}
called, failures = set(), []
for method, template, path, body, content_type, headers, auth in CALLS:
    headers = dict(headers)
    if auth:
        headers["Authorization"] = AUTH
    data = None
    if body is not None:
        headers["Content-Type"] = content_type
        data = json.dumps(body) if content_type == "application/json" else body
    response = requests.request(method, BASE + path, data=data, headers=headers, timeout=300)
    called.add((method, template))
    try:
        api.validate_response(RequestsOpenAPIRequest(response.request), Response(response))
        if data is not None:
            api.validate_request(RequestsOpenAPIRequest(response.request))
        print(f"ok   {method.upper()} {path} -> {response.status_code}")
    except Exception as e:  # every mismatch is reported, not only the first
        detail = "; ".join(str(c) for c in getattr(e, "schema_errors", []) or [e])
        failures.append(f"{method.upper()} {path} -> {response.status_code}: {detail}")
        print(f"FAIL {method.upper()} {path} -> {response.status_code}: {detail}\n     {response.text[:400]}")
    if response.status_code >= 500:
        failures.append(f"{method.upper()} {path} -> {response.status_code}: {response.text[:400]}")

missing = sorted(documented - called - websocket)
undocumented = sorted(called - documented)
for m, p in missing:
    failures.append(f"documented but not called: {m.upper()} {p}")
print(json.dumps({"operations": len(called | (documented & websocket)), "missing": missing,
                  "undocumented": undocumented, "failures": len(failures)}))
sys.exit(1 if failures or undocumented else 0)
