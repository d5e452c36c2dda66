"""Frees an API request's data as soon as its answer is rendered, instead of at the cycle collector's next pass.

DRF builds reference cycles around every request: the view and its Response refer to each other
(view.response, response.renderer_context["view"]), so do the Request and its parser context, and a list
serializer and its child. Whatever hangs off them, such as a batch's parsed body, its built entries and the
answer's rows, cannot be freed by reference counting, only by Python's cycle collector. They piled up in its
oldest generation until a full pass, which then walked and freed all of them while holding the interpreter for
every thread of the worker: passes of 160–360 ms, and a worker's peak memory half as much again
(bench/README.md, twelfth round).

The same holds for a list page's rows, kept by its serializer and by the view's paginator.

Once the answer is bytes, nothing reads them. ReleaseAnsweredDataMiddleware drops them, so they are freed when
the request ends, and the collector is left only the few small objects of the cycles themselves. Freeing them
costs the same CPU either way: what changes is when, and how much memory waits for it.

An array's request also runs with the collector held off (collector_paused) from its parse until its answer is
released: a pass in between would only walk what the request still uses, and the pass its allocations have
accumulated by then finds almost nothing left.
"""

import gc

# What a DRF Request holds of the parsed body (request.data, request.POST and request.FILES).
REQUEST_DATA_ATTRIBUTES = ("_data", "_full_data", "_files")


def release_answered_data(response):
    """Drop a rendered DRF answer's references to its data and to its request's parsed body.

    Only a DRF response, once rendered and not streamed: a streamed answer's iterator still reads its view.
    Whether it was released: response.data is None afterwards."""
    context = getattr(response, "renderer_context", None)
    if context is None or response.streaming or not getattr(response, "is_rendered", False):
        return False
    request = context.get("request")
    if request is not None:
        for name in REQUEST_DATA_ATTRIBUTES:
            if name in request.__dict__:
                setattr(request, name, None)
    # DRF's answer data (ReturnList, ReturnDict) keeps the serializer that made it, which keeps what it read (a list
    # page's rows, an entry) in its own cycles: the data itself, or a page's `results`.
    data = response.data
    for made in (data, *(data.values() if isinstance(data, dict) else ())):
        serializer = getattr(made, "serializer", None)
        if serializer is not None:
            release_serializer_data(serializer)
    # A list's paginator keeps its page's rows on the view, which the request's cycles keep.
    paginator = getattr(context.get("view"), "__dict__", {}).get("_paginator")
    if paginator is not None and "page" in paginator.__dict__:
        paginator.page = None
    response.data = None
    # The view and the request stay reachable from the response only as the cycles' own small objects.
    response.renderer_context = {}
    return True


# What a serializer holds of the request and of what it built: the body, the validated data, the entries, the answer.
SERIALIZER_DATA_ATTRIBUTES = ("initial_data", "_validated_data", "instance", "_data", "_errors")


def release_serializer_data(serializer):
    """Drop what `serializer` (and a list serializer's child) holds of the body and of what it built, once its
    answer is taken (serializer.data, which the answer keeps). DRF binds a list serializer's child to it
    (child.parent), and each field to its serializer: cycles that would keep the batch for the collector."""
    for each in (serializer, getattr(serializer, "child", None)):
        if each is None:
            continue
        for name in SERIALIZER_DATA_ATTRIBUTES:
            if name in each.__dict__:
                setattr(each, name, None)
        # The arguments it was made with (kept for a copy of it), the body among them.
        for name in ("data", "instance"):
            each.__dict__.get("_kwargs", {}).pop(name, None)
        each._args = ()


# Set by the middleware on each request it serves: what to run once its answer is released.
ON_RELEASE = "_ledger_on_release"


class collector_paused:  # noqa: N801 - used as a context manager, like contextlib's
    """Hold the cyclic garbage collector off for an array's request: its parse, validation, append and answer.

    An array of a thousand entries allocates hundreds of thousands of objects (items, entries, content
    dicts, COPY rows) that reference counting alone frees once the request is answered and released; on the
    way they would set off dozens of collector passes, each walking every young object, and now and then a
    full pass over the whole heap. Allocations still count while it is off, so the collector makes a pass at
    the first allocation after it is back on: served through ReleaseAnsweredDataMiddleware, `request`'s
    collector comes back only once the answer is released, when that pass finds the request's objects freed,
    instead of when the block ends with all of them still held by the answer (a pass over the whole batch).
    Without the middleware it comes back as the block ends; resume() brings it back at once (a request that
    turned out not to be an array).

    The hold is bounded (the request size limit, api.MAX_BATCH entries). Only the block that turned the
    collector off turns it back on, so a concurrent request's block (threads of one worker) or a collector
    turned off elsewhere is left as is; at worst a batch runs part of its way with the collector on.
    """

    def __init__(self, request=None):
        self.on_release = getattr(request, ON_RELEASE, None)
        self.held = False

    def __enter__(self):
        if gc.isenabled():
            gc.disable()
            self.held = True
        return self

    def resume(self):
        if self.held:
            self.held = False
            gc.enable()

    def __exit__(self, *exc_info):
        if self.held and self.on_release is not None:
            self.on_release.append(self.resume)
        else:
            self.resume()
        return False


class ReleaseAnsweredDataMiddleware:
    """Releases each rendered API answer's data (release_answered_data) on its way out, then runs what the
    request asked to run after that (collector_paused). Put it outside every middleware that may read
    response.data: those run before it on the way out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        on_release = []
        setattr(request, ON_RELEASE, on_release)
        try:
            response = self.get_response(request)
            release_answered_data(response)
        finally:
            for run in on_release:
                run()
        return response
