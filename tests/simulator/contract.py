# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Cloudflare's published contract (tests/contract/email-security-openapi.yaml), checked in both directions.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so ``jsonschema`` validates bodies, parameters and answers
against the vendored document itself; ``$ref`` resolves inside it. (openapi-core 0.23 cannot read this
contract: its parameter deserializer fails on 3.1's ``type: [string, 'null']``.) This module routes a request
to its operation, converts query strings by their schema type, and reports every departure from the
contract as text naming the parameter or field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re

import yaml
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

CONTRACT_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "contract", "email-security-openapi.yaml"
)
API_PREFIX = "/client/v4"
_FORMATS = FormatChecker()
_LOADED = {}


def _required_in_requests(validator, required, instance, schema):
    """OpenAPI's rule for request bodies: a readOnly property is required of answers only."""
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    for name in required:
        if name not in instance and not properties.get(name, {}).get("readOnly"):
            yield ValidationError("%r is a required property" % name)


_RequestValidator = validators.extend(Draft202012Validator, {"required": _required_in_requests})


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value):
    if not isinstance(value, str):
        return True
    if not re.match(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", value):
        raise ValueError("%r is not an RFC 3339 date-time" % value)
    parse_date_time(value)
    return True


def parse_date_time(value):
    # Python 3.10 parses only 3 or 6 digits of a fraction of a second; a whole second is precise enough here.
    return datetime.datetime.fromisoformat(re.sub(r"\.\d+", "", value.upper().replace("Z", "+00:00")))


class Operation:
    def __init__(self, contract, method, template, spec, shared_parameters):
        self.method = method.upper()
        self.template = template
        self.operation_id = spec.get("operationId")
        names = re.findall(r"{([^}]+)}", template)
        self.pattern = re.compile("^" + re.sub(r"{[^}]+}", "([^/]+)", template) + "$")
        self.path_names = names
        self.parameters = {}
        for parameter in shared_parameters + spec.get("parameters", []):
            parameter = contract.resolve(parameter)
            self.parameters[(parameter["in"], parameter["name"])] = parameter
        body = spec.get("requestBody")
        self.body = contract.resolve(body) if body else None
        self.responses = {str(code): contract.resolve(answer) for code, answer in spec["responses"].items()}


class Contract:
    """The vendored OpenAPI document, loaded once per process."""

    def __init__(self, path=CONTRACT_PATH):
        with open(path, encoding="utf-8") as source:
            self.document = yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        self.operations = []
        for template, item in self.document["paths"].items():
            shared = item.get("parameters", [])
            for method in ("get", "post", "put", "patch", "delete"):
                if method in item:
                    self.operations.append(Operation(self, method, template, item[method], shared))
        self._validators = {}

    @classmethod
    def load(cls, path=CONTRACT_PATH):
        if path not in _LOADED:
            _LOADED[path] = cls(path)
        return _LOADED[path]

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            node = self._at(node["$ref"])
        return node

    def _at(self, reference):
        node = self.document
        for part in reference.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _schema_errors(self, schema, instance, where, request=False):
        key = (id(schema), request)
        if key not in self._validators:
            # The schema's keywords at the root of the whole document: its $refs resolve inside the document,
            # whose own top-level keys (openapi, info, paths, components) are no JSON Schema keywords.
            root = dict(self.document)
            root.update(schema)
            root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
            kind = _RequestValidator if request else Draft202012Validator
            self._validators[key] = kind(root, format_checker=_FORMATS)
        errors = sorted(self._validators[key].iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [
            "%s%s: %s" % (where, "".join("[%r]" % p for p in error.absolute_path), error.message[:300])
            for error in errors[:5]
        ]

    def operation(self, method, path):
        """(operation, path parameters) for an API path after the /client/v4 prefix, or (None, None)."""
        for operation in self.operations:
            match = operation.pattern.match(path)
            if match and operation.method == method.upper():
                return operation, dict(zip(operation.path_names, match.groups()))
        return None, None

    def check_request(self, operation, path_values, query, body, ignore=(), check_body=True):
        """Every way a request departs from its operation: unknown, missing or invalid parameters, a bad body."""
        problems = []
        for name, value in path_values.items():
            problems.extend(self._parameter_errors(operation, "path", name, [value]))
        for name, values in query.items():
            if name in ignore:
                continue
            if ("query", name) not in operation.parameters:
                problems.append("query parameter %s is not part of %s" % (name, operation.operation_id))
                continue
            problems.extend(self._parameter_errors(operation, "query", name, values))
        for (place, name), parameter in operation.parameters.items():
            if place == "query" and parameter.get("required") and name not in query:
                problems.append("query parameter %s is required" % name)
        if operation.body is not None:
            if check_body:
                problems.extend(self._body_errors(operation, body))
        elif body:
            problems.append("%s takes no request body" % operation.operation_id)
        return problems

    def _parameter_errors(self, operation, place, name, values):
        parameter = operation.parameters.get((place, name))
        if parameter is None:
            return []
        schema = self.resolve(parameter.get("schema", {}))
        kinds = schema.get("type", "string")
        kinds = [k for k in (kinds if isinstance(kinds, list) else [kinds]) if k != "null"] or ["string"]
        if len(values) > 1 and "array" not in kinds:
            return ["%s parameter %s is given %d times" % (place, name, len(values))]
        try:
            converted = _convert(values[0], kinds[0])
        except ValueError:
            return ["%s parameter %s: %r is not a valid %s" % (place, name, values[0], kinds[0])]
        return self._schema_errors(schema, converted, "%s parameter %s" % (place, name))

    def _body_errors(self, operation, body):
        if not body:
            return ["%s needs a JSON request body" % operation.operation_id] if operation.body.get("required") else []
        try:
            document = json.loads(body.decode("utf-8"))
        except ValueError:
            return ["the request body is not JSON"]
        schema = self.resolve(operation.body["content"]["application/json"]["schema"])
        return self._schema_errors(schema, document, "request body", request=True)

    def check_response(self, operation, status, body, headers):
        """Every way an answer departs from what the operation documents for its status."""
        key = str(status) if str(status) in operation.responses else "%dXX" % (status // 100)
        if key not in operation.responses:
            return ["HTTP %s is not documented for %s" % (status, operation.operation_id)]
        answer = operation.responses[key]
        problems = ["header %s is missing" % name for name in answer.get("headers", {}) if name not in headers]
        content = answer.get("content", {}).get("application/json")
        if content is None:
            return problems
        return problems + self._schema_errors(self.resolve(content["schema"]), body, "HTTP %s answer" % status)


def _convert(value, kind):
    if kind == "integer":
        if not re.match(r"^-?\d+$", value):
            raise ValueError(value)
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        if value not in ("true", "false"):
            raise ValueError(value)
        return value == "true"
    return value
