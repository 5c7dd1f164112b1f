"""A minimal OTLP/gRPC trace receiver for the telemetry tests.

Implements `opentelemetry.proto.collector.trace.v1.TraceService/Export`
on 127.0.0.1 (a free port), prints `LISTENING <port>` once it is ready,
then one JSON line per received span:

    {"service": ..., "name": ..., "attributes": {...}}

It stops when its stdin closes, or after a hard limit of 300 seconds.
Needs `grpcio` and `opentelemetry-proto` (the test installs them into a
virtualenv under the target folder).
"""

import json
import os
import sys
import threading
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import (
    trace_service_pb2,
    trace_service_pb2_grpc,
)

_print_lock = threading.Lock()


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    value = getattr(any_value, kind)
    if kind == "bytes_value":
        return value.hex()
    if kind in ("array_value", "kvlist_value"):
        return str(value)
    return value


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request, context):  # noqa: N802 (gRPC method name)
        lines = []
        for resource_spans in request.resource_spans:
            resource = {
                kv.key: _value(kv.value) for kv in resource_spans.resource.attributes
            }
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(
                        json.dumps(
                            {
                                "service": resource.get("service.name"),
                                "name": span.name,
                                "attributes": {
                                    kv.key: _value(kv.value) for kv in span.attributes
                                },
                            }
                        )
                    )
        with _print_lock:
            for line in lines:
                print(line)
            sys.stdout.flush()
        return trace_service_pb2.ExportTraceServiceResponse()


def main():
    # Never outlive a test that forgot us.
    limit = threading.Timer(300, lambda: os._exit(3))
    limit.daemon = True
    limit.start()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with _print_lock:
        print(f"LISTENING {port}", flush=True)
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
