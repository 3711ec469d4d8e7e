"""Put on PYTHONPATH by the tests that break uploads on purpose: the Hub client still retries every failed request
as many times as it would for a user, but waits milliseconds between tries instead of 1, 2, 4, 8, 8 seconds, so a
test of a persistent fault does not sleep for 23 s per push."""

try:
    from huggingface_hub.utils import _http
except ImportError:  # a subprocess that has no Hub client
    pass
else:
    for function in (_http.http_backoff, _http._http_backoff_base):
        function.__kwdefaults__.update(base_wait_time=0.01, max_wait_time=0.02)
