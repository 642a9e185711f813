"""A small pickle interpreter that runs only the opcodes a pickle of plain data needs.

Why not ``pickle.Unpickler`` with a restricted ``find_class``: the C unpickler
trusts the file's structure. A tuple nested a million deep overflows its C stack
while it is built or hashed (SIGSEGV, which no ``except`` catches), and a memo
index of 300,000,000 in a 10-byte file makes it allocate and zero a memo table of
several GB before anything is checked. Here the opcodes come from
``pickletools.genops`` (which checks every declared length against the bytes
left before reading them) and run on a Python list, so:

* nothing recurses while reading: the stack is a list, the memo a dict holding
  only what the file put there (its size is bounded by the opcode count, which is
  bounded by the file's size);
* dict keys are plain scalars (bytes, str, int, float, bool, None), so hashing a
  key never walks a nested structure;
* the result is at most ``max_depth`` containers deep (walked without recursion,
  cycles included), so code that reads it later cannot overflow either;
* calls go only to the stand-ins of ``find_class`` (``REDUCE``) and
  ``__setstate__`` only to the stand-in objects (``BUILD``); persistent ids only
  to the caller's ``persistent_load`` (none by default); the opcodes that make
  instances of arbitrary classes, sets, extensions and out-of-band buffers are
  refused.

Example:
    >>> import pickle
    >>> run(pickle.dumps({b"labels": [3, 8]}, protocol=3), find_class=None, call_types=(), source="b")
    {b'labels': [3, 8]}
"""

import pickle
import pickletools

_SCALAR_KEYS = (bytes, str, int, float, bool, type(None))
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_PLAIN = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
          "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
          "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"}
_PY2_STRINGS = {"STRING", "BINSTRING", "SHORT_BINSTRING"}  # Python 2 str: bytes, as encoding="bytes" reads it
_IGNORED = {"PROTO", "FRAME"}


class _Rules:
    """What a caller allows: the callables, the types that take ``BUILD``, persistent ids, dict stand-ins."""

    def __init__(self, find_class, call_types, persistent_load, dict_types):
        self.callables = set()  # ids of what find_class gave (kept alive by the stack or memo)
        self.find_class, self.call_types = find_class, call_types
        self.persistent_load, self.dict_types = persistent_load, (dict, *dict_types)
        self.containers = (list, tuple, *self.dict_types)

    def lookup(self, module, name):
        func = self.find_class(module, name)
        self.callables.add(id(func))
        return func


class Refused(pickle.UnpicklingError):
    """Raised for a pickle outside what the interpreter accepts; the caller adds the file's name."""


def _pop_mark(stack, marks):
    if not marks:
        raise Refused("an opcode that needs a MARK found none")
    start = marks.pop()
    items = stack[start:]
    del stack[start:]
    return items


def _key(key):
    if not isinstance(key, _SCALAR_KEYS):
        raise Refused(f"a dict key of type {type(key).__name__} refused: keys must be bytes, str or numbers")
    return key


def _dict(target, rules):
    if type(target) not in rules.dict_types:
        raise Refused(f"SETITEM on a {type(target).__name__} refused: only dicts take items")
    return target


def _list(target):
    if type(target) is not list:
        raise Refused(f"APPEND on a {type(target).__name__} refused: only lists take items")
    return target


def _step(name, arg, stack, marks, memo, rules):
    """Run one opcode on ``stack`` (the pickle virtual machine, restricted)."""
    if name in _PLAIN:
        stack.append(arg)
    elif name in _PY2_STRINGS:
        stack.append(arg.encode("latin-1"))  # pickletools decodes them as latin-1: lossless
    elif name in _CONSTANTS:
        stack.append(_CONSTANTS[name])
    elif name == "MARK":
        marks.append(len(stack))
    elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
        memo[arg] = stack[-1]
    elif name == "MEMOIZE":
        memo[len(memo)] = stack[-1]
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        if arg not in memo:
            raise Refused(f"memo index {arg} read before it was written")
        stack.append(memo[arg])
    elif name == "EMPTY_TUPLE":
        stack.append(())
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        n = int(name[-1])
        if len(stack) < n:
            raise IndexError("stack underflow")
        items = tuple(stack[-n:])
        del stack[-n:]
        stack.append(items)
    elif name == "TUPLE":
        stack.append(tuple(_pop_mark(stack, marks)))
    elif name == "EMPTY_LIST":
        stack.append([])
    elif name == "LIST":
        stack.append(_pop_mark(stack, marks))
    elif name == "APPEND":
        item = stack.pop()
        _list(stack[-1]).append(item)
    elif name == "APPENDS":
        items = _pop_mark(stack, marks)
        _list(stack[-1]).extend(items)
    elif name == "EMPTY_DICT":
        stack.append({})
    elif name in ("DICT", "SETITEMS"):
        items = _pop_mark(stack, marks)
        if len(items) % 2:
            raise Refused(f"{name} with an odd number of items ({len(items)})")
        target = {} if name == "DICT" else _dict(stack[-1], rules)
        for i in range(0, len(items), 2):
            target[_key(items[i])] = items[i + 1]
        if name == "DICT":
            stack.append(target)
    elif name == "SETITEM":
        value, key = stack.pop(), stack.pop()
        _dict(stack[-1], rules)[_key(key)] = value
    elif name == "POP":
        if marks and marks[-1] == len(stack):
            marks.pop()
        else:
            stack.pop()
    elif name == "POP_MARK":
        _pop_mark(stack, marks)
    elif name == "DUP":
        stack.append(stack[-1])
    elif name in ("GLOBAL", "STACK_GLOBAL"):
        if name == "GLOBAL":
            module, _, attr = arg.partition(" ")
        else:
            attr, module = stack.pop(), stack.pop()
            if not (isinstance(module, str) and isinstance(attr, str)):
                raise Refused("STACK_GLOBAL needs a module and a name as str")
        stack.append(rules.lookup(module, attr))
    elif name in ("BINPERSID", "PERSID") and rules.persistent_load is not None:
        stack.append(rules.persistent_load(stack.pop() if name == "BINPERSID" else arg))
    elif name == "REDUCE":
        args, func = stack.pop(), stack.pop()
        if id(func) not in rules.callables or type(args) is not tuple:
            raise Refused(f"a call of a {type(func).__name__} refused: only the allowed globals are called, "
                          f"with a tuple of arguments")
        stack.append(func(*args))
    elif name == "BUILD":
        state = stack.pop()
        if not isinstance(stack[-1], rules.call_types):
            raise Refused(f"BUILD on a {type(stack[-1]).__name__} refused: only array and dtype "
                          f"descriptions take a state")
        stack[-1].__setstate__(state)
    else:
        raise Refused(f"opcode {name} refused: only dicts, lists, tuples, strings, bytes, numbers and the "
                      f"allowed globals are read")


def _check_depth(obj, max_depth, containers=(list, tuple, dict)):
    """Refuse ``obj`` if it nests containers deeper than ``max_depth`` (or holds itself); no recursion."""
    done = set()  # ids of containers already walked and within the limit
    end = object()
    if type(obj) not in containers:
        return
    path, on_path = [(id(obj), _children(obj))], {id(obj)}  # the containers being walked, root first
    while path:
        if len(path) > max_depth:
            raise Refused(f"containers nested deeper than {max_depth} levels refused: a data file is flat")
        node, items = path[-1]
        child = next(items, end)
        if child is end:
            path.pop()
            on_path.discard(node)
            done.add(node)
        elif type(child) in containers and id(child) not in done:
            if id(child) in on_path:
                raise Refused("a container that holds itself refused")
            path.append((id(child), _children(child)))
            on_path.add(id(child))


def _children(container):
    return iter(list(container.values())) if isinstance(container, dict) else iter(container)


def _opcodes(data):
    """``(opcode, argument)`` pairs; genops's ValueError (a length beyond the file, a bad opcode) named."""
    ops = pickletools.genops(data)
    while True:
        try:
            op, arg, _ = next(ops)
        except StopIteration:
            return
        except ValueError as e:  # UnicodeDecodeError included
            raise Refused(f"truncated or not a pickle ({e})") from None
        yield op, arg


def run(data, find_class, call_types, source, max_depth=32, persistent_load=None, dict_types=()):
    """Unpickle ``data`` with the restricted machine: ``find_class(module, name)`` gives the only callables.

    ``data`` is bytes, or a binary file object positioned at a pickle: reading
    stops after its ``STOP`` opcode, so a stream of several pickles (PyTorch's
    legacy format) is read one pickle per call. ``call_types`` are the classes
    whose instances accept ``BUILD`` (``__setstate__``); ``persistent_load(pid)``,
    when given, answers persistent ids (``BINPERSID``; refused otherwise);
    ``dict_types`` are dict subclasses (a stand-in's result) that take items
    like a dict. Errors are ``pickle.UnpicklingError`` naming ``source``.

    Example:
        >>> run(b"\\x80\\x02cos\\nsystem\\n.", find_class=None, call_types=(), source="evil.pkl")
        Traceback (most recent call last):
        ...
        _pickle.UnpicklingError: evil.pkl: not a readable pickle (TypeError: 'NoneType' object is not callable)
    """
    stack, marks, memo = [], [], {}
    rules = _Rules(find_class, call_types, persistent_load, dict_types)
    try:
        for op, arg in _opcodes(data):
            if op.name == "STOP":
                if len(stack) != 1 or marks:
                    raise Refused(f"STOP with {len(stack)} values on the stack")
                _check_depth(stack[0], max_depth, rules.containers)
                return stack[0]
            if op.name in _PLAIN:  # the commonest opcodes first: a file may hold a million of them
                stack.append(arg)
            elif op.name == "TUPLE1":
                stack[-1] = (stack[-1],)
            elif op.name not in _IGNORED:
                _step(op.name, arg, stack, marks, memo, rules)
    except Refused as e:
        raise pickle.UnpicklingError(f"{source}: {e}") from None
    except pickle.UnpicklingError as e:  # a stand-in's refusal: its message is already clear
        raise pickle.UnpicklingError(f"{source}: {e}") from None
    except (ValueError, IndexError, TypeError, AttributeError, KeyError, OverflowError, RecursionError,
            UnicodeError) as e:  # genops's "truncated" / "not a pickle", an empty stack, stand-ins given nonsense
        raise pickle.UnpicklingError(f"{source}: not a readable pickle ({type(e).__name__}: {e})") from None
    raise pickle.UnpicklingError(f"{source}: not a readable pickle (no STOP opcode)")
