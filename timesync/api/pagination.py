"""Pagination of every list: limit and offset, validated and bounded."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

MAX_PAGE_SIZE = 1000  # the largest page a client may ask for; also bounds the query's LIMIT
# An offset past any table we will hold; PostgreSQL's OFFSET is a bigint, and a value past it
# was a 500 (the fuzzer's ?limit=2**63).
MAX_OFFSET = 10**9


class _PageQuery(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset, but an out-of-range or non-integer limit or offset is a 400 that
    says so, instead of being silently replaced (or reaching the database)."""

    max_limit = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request: Request, view=None):
        query = _PageQuery(data={name: request.query_params[name]
                                 for name in (self.limit_query_param, self.offset_query_param)
                                 if name in request.query_params})
        query.is_valid(raise_exception=True)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            bounds = ({"minimum": 1, "maximum": MAX_PAGE_SIZE}
                      if parameter["name"] == self.limit_query_param
                      else {"minimum": 0, "maximum": MAX_OFFSET})
            parameter["schema"] = {**parameter["schema"], **bounds}
        return parameters
