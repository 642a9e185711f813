"""Walking Keras models with Keras's public API only.

:func:`all_layers` lists layers, nested models included. :func:`model_graph`
reads the calls of a model's own graph, in order, from the model's config (the
description ``model.save`` writes), so shared layers and a Sequential's
re-traces are seen exactly as the model uses them. :func:`replay` calls the
same layers again on new inputs, through nested models, and hands back any
layer's output on the way: what feature maps and Grad-CAM need.

Keras keeps the graph itself on private attributes (a layer's nodes, a
Sequential's inner functional model); the config is the public record of the
same graph. A call is keyed ``(layer name, call index)`` and a tensor
``(layer name, call index, tensor index)``, as the config's ``keras_history``.

Example:
    >>> import keras, zoo
    >>> inner = zoo.resnet20(include_top=False)
    >>> x = keras.Input((32, 32, 3)); model = keras.Model(x, inner(x))
    >>> names = [layer.name for layer in all_layers(model)]
    >>> names[:4] == [model.name, model.layers[0].name, "resnet20", inner.layers[0].name]
    True
    >>> [call.layer.name for call in model_graph(model).calls]
    ['resnet20']
"""

import dataclasses
import heapq

import keras


def all_layers(layer):
    """``layer`` and every layer inside it, nested models and composite layers alike (depth first, pre-order).

    A composite layer (a plain ``keras.layers.Layer`` that holds other layers,
    as keras-hub's MobileNet blocks hold their BatchNormalization) is walked
    too, so freezing and reports see every BatchNorm. Each layer comes once.

    Example:
        >>> sum(1 for _ in all_layers(zoo.cnn_mnist()))   # the model, its input and 7 layers
        9
    """
    seen = set()

    def walk(current):
        if id(current) in seen:
            return
        seen.add(id(current))
        yield current
        for sub in sublayers(current):
            yield from walk(sub)

    yield from walk(layer)


def sublayers(layer):
    """The layers ``layer`` holds directly: a model's ``layers``, else the layers among its attributes.

    Keras 3 has no public list of a plain layer's sub-layers (a Model has
    ``layers``; a Layer keeps them on private trackers). A layer's sub-layers
    are, by Keras's own tracking rule, the layers assigned to its attributes,
    directly or inside lists, tuples and dicts: ``vars(layer)`` holds them
    (pinned by tests/test_transfer_hub.py with a composite layer of each kind).

    Example:
        >>> block = keras.layers.Layer()
        >>> block.parts = [keras.layers.Dense(2), {"bn": keras.layers.BatchNormalization()}]
        >>> [type(s).__name__ for s in sublayers(block)]
        ['Dense', 'BatchNormalization']
    """
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    found, seen = [], set()

    def collect(value, depth):
        if isinstance(value, keras.layers.Layer):
            if value is not layer and id(value) not in seen:
                seen.add(id(value))
                found.append(value)
        elif depth < 4 and isinstance(value, (list, tuple)):
            for item in value:
                collect(item, depth + 1)
        elif depth < 4 and isinstance(value, dict):
            for item in value.values():
                collect(item, depth + 1)

    for value in vars(layer).values():
        collect(value, 0)
    return found


@dataclasses.dataclass(frozen=True)
class Call:
    """One call of a layer in a model's graph.

    ``index`` tells the calls of a layer used more than once apart; ``inputs``
    holds the tensor keys of the tensors it receives (positional ones first),
    ``input_shapes`` and ``output_shape`` (its first output) include the batch
    dimension. ``args`` and ``kwargs`` are the call's arguments as the config
    records them (tensors as ``__keras_tensor__`` entries).
    """

    layer: keras.layers.Layer
    index: int
    inputs: tuple
    input_shapes: tuple
    output_shape: tuple
    args: tuple
    kwargs: dict


@dataclasses.dataclass(frozen=True)
class Graph:
    """A model's graph: its input and output tensor keys and its calls, every call after its inputs."""

    inputs: tuple
    outputs: tuple
    calls: tuple


def _is_tensor(value):
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _tensors_in(structure):
    """The serialized tensors in a call's args or kwargs, in order."""
    if _is_tensor(structure):
        return [structure["config"]]
    items = structure.values() if isinstance(structure, dict) else structure if isinstance(structure, (list, tuple)) else ()
    return [t for item in items for t in _tensors_in(item)]


def _functional_config(model):
    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None):
        raise ValueError("Expected a functional or Sequential keras.Model with a known input. "
                         f"Received: {type(model).__name__} {getattr(model, 'name', '')!r}")
    # A functional model over the same tensors: a Sequential (or a subclass of Model with its own
    # constructor) gets the functional config, whose layers list their calls. Naming it after the
    # model leaves Keras's counters for default names untouched.
    view = keras.Model(model.inputs, model.outputs, name=model.name)
    try:
        return view, view.get_config()
    except NotImplementedError as err:  # a custom layer without get_config()
        raise ValueError(f"The graph of {model.name!r} is read from its config, and a layer has none: "
                         f"{err}") from err


def model_graph(model):
    """The calls of ``model``'s own graph (a :class:`Graph`), every call after the calls it depends on.

    Works for functional and Sequential models; a nested model is one call here
    (walk into it with ``model_graph(call.layer)``).

    Example:
        >>> graph = model_graph(zoo.lenet5())
        >>> [(c.layer.name, c.output_shape) for c in graph.calls][:2]
        [('c1', (None, 28, 28, 6)), ('s2', (None, 14, 14, 6))]
        >>> graph.inputs, graph.outputs
        ((('input', 0, 0),), (('predictions', 0, 0),))
    """
    view, config = _functional_config(model)
    # Names are unique within a model; operations also holds Keras ops used as graph nodes
    # (keras.ops.add in MobileNetV3 and ConvNeXt), which model.layers leaves out.
    layers = {op.name: op for op in view.operations}
    shapes = {tuple(t["keras_history"]): tuple(t["shape"])
              for entry in config["layers"] for node in entry["inbound_nodes"] for t in _tensors_in(node)}
    outputs = tuple((name, index - _first_call(layers[name]), position)
                    for name, index, position in config["output_layers"])
    shapes.update({ref: tuple(t.shape) for ref, t in zip(outputs, view.outputs)})
    pending = []  # (position in the config, call key, Call)
    for entry in config["layers"]:
        layer = layers[entry["name"]]
        for index, node in enumerate(entry["inbound_nodes"]):
            tensors = _tensors_in(node["args"]) + _tensors_in(node["kwargs"])
            in_shapes = tuple(tuple(t["shape"]) for t in tensors)
            out_shape = shapes.get((layer.name, index, 0))
            if out_shape is None:  # a first output nobody reads (a multi-output layer): ask the layer
                out_shape = tuple(layer.compute_output_shape(in_shapes[0] if len(in_shapes) == 1 else in_shapes))
            call = Call(layer, index, tuple(tuple(t["keras_history"]) for t in tensors), in_shapes, out_shape,
                        node["args"], node["kwargs"])
            pending.append((len(pending), (layer.name, index), call))
    return Graph(tuple(tuple(ref) for ref in config["input_layers"]), outputs, _in_order(pending))


def _first_call(layer):
    """Where ``output_layers`` starts counting ``layer``'s calls: 1 for a functional model, else 0.

    Keras numbers the calls in a layer's ``inbound_nodes`` from 0, but in the
    config's ``output_layers`` a functional model's first call is 1 (its own
    input-to-output graph counts as call 0 there). Keras has no public word
    for "functional model"; a Model with ``outputs`` that is not a Sequential
    is one. Pinned by tests/test_zoo_inspection.py (a nested model as the last layer).
    """
    functional = (isinstance(layer, keras.Model) and not isinstance(layer, keras.Sequential)
                  and getattr(layer, "outputs", None) is not None)
    return 1 if functional else 0


def _in_order(pending):
    """Kahn's topological sort, keeping the config's order (inputs first) among the calls that are ready."""
    keys = {key for _, key, _ in pending}
    waiting = {key: {ref[:2] for ref in call.inputs} & keys for _, key, call in pending}
    readers = {}
    for position, key, call in pending:
        for dep in waiting[key]:
            readers.setdefault(dep, []).append((position, key, call))
    ready = [(p, k, c) for p, k, c in pending if not waiting[k]]
    heapq.heapify(ready)
    ordered = []
    while ready:
        position, key, call = heapq.heappop(ready)
        ordered.append(call)
        for reader in readers.get(key, ()):
            waiting[reader[1]].discard(key)
            if not waiting[reader[1]]:
                heapq.heappush(ready, reader)
    return tuple(ordered)


def replay(model, inputs, tap=None, replace=None):
    """Call ``model``'s layers again on ``inputs`` (symbolic tensors); return ``(outputs, tapped)``.

    The walk goes through nested models layer by layer, so ``tap``, a layer
    name, may sit inside a backbone: ``tapped`` is the output of its first
    call (None without ``tap``). ``replace=(layer name, tensor)`` uses
    ``tensor`` instead of that layer's first output, which builds the part of
    the model after the layer. The layers and their weights are the model's
    own; like ``keras.models.clone_model(model, clone_function=lambda l: l)``
    each replay adds a call to them, leaving the model's own graph as it was.
    The ``training`` argument a nested model was called with is not carried
    inside it: call the result with ``training=False`` for inference.

    Example:
        >>> model = zoo.cnn_mnist()
        >>> x = keras.Input((28, 28, 1))
        >>> outputs, maps = replay(model, x, tap="block2_conv")
        >>> keras.Model(x, [maps, *outputs]).output_shape
        [(None, 11, 11, 32), (None, 10)]
    """
    found = {}
    outputs = _replay(model, keras.tree.flatten(inputs), tap, replace, found)
    return outputs, found.get("tap")


def _replay(model, inputs, tap, replace, found):
    graph = model_graph(model)
    if len(inputs) != len(graph.inputs):
        raise ValueError(f"{model.name!r} takes {len(graph.inputs)} inputs. Received: {len(inputs)} tensors")
    made = {ref[:2]: [tensor] for ref, tensor in zip(graph.inputs, inputs)}

    def rebuild(value):  # the config's arguments with the new tensors in place of the recorded ones
        if _is_tensor(value):
            name, index, position = value["config"]["keras_history"]
            return made[(name, index)][position]
        if isinstance(value, (list, tuple)):
            return type(value)(rebuild(v) for v in value)
        if isinstance(value, dict) and "class_name" in value:
            return keras.saving.deserialize_keras_object(value)
        return {k: rebuild(v) for k, v in value.items()} if isinstance(value, dict) else value

    for call in graph.calls:
        name = call.layer.name
        if replace is not None and name == replace[0] and "replaced" not in found:
            found["replaced"] = True
            outputs = [replace[1]]
        elif isinstance(call.layer, keras.Model):
            outputs = _replay(call.layer, keras.tree.flatten(rebuild(call.args)), tap, replace, found)
        else:
            outputs = keras.tree.flatten(call.layer(*rebuild(call.args), **rebuild(call.kwargs)))
        if name == tap and "tap" not in found:
            found["tap"] = outputs[0]
        made[(name, call.index)] = outputs
    return [made[ref[:2]][ref[2]] for ref in graph.outputs]
