/*
 * glue.c -- chanpy's GIL-held entry points (the module chanpy._fast).
 *
 * Why this exists: cffi releases and re-takes the GIL around every call
 * into C. With a busy Python thread in the process, re-taking it can stall
 * a caller for a whole switch interval (5 ms), so a "one cffi call per
 * send" core is fast alone and erratic in a real program (docs/design.md
 * has the numbers). This module is a second CPython module compiled into
 * the same shared library as the cffi module (PEP 489 lets one library
 * hold several); its functions run with the GIL held and never release it.
 * The GIL is released only by chp_waiter_park, called through cffi while a
 * thread really waits.
 *
 * Reference rule (see chp.h): every value pointer given to the core is one
 * strong reference that moves with the value. We INCREF before offering a
 * value and DECREF it again if the offer did not take effect.
 *
 * Waking: a claimed waiter comes back with a core reference. Thread waiters
 * are woken with a futex wake (no GIL release); task waiters carry a Python
 * callable, called here. Both happen after the core dropped its lock. The
 * GIL is held from the claim to the wake, so the Waiter object that owns a
 * task waiter (whose address is its `user` pointer) cannot be disarmed and
 * freed in between.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include "chp.h"

/* Set once by chanpy._ffi through _setup(). */
static PyObject *Closed_exc;      /* chanpy.Closed */
static PyObject *WouldBlock_exc;  /* chanpy.WouldBlock */
static PyObject *park_select;     /* (cases, timeout, api) -> Selected */
static PyObject *scope_var;       /* contextvar: the active Context scope or None */

/* Which public call is waiting: the parker names the async form in errors. */
static PyObject *API_SEND, *API_RECV, *API_SELECT;

static PyObject *WOULDBLOCK;      /* sentinel: nothing happened */
static PyObject *CLOSED;          /* sentinel: closed and drained */

static PyTypeObject ChanCore_Type, Case_Type, Selected_Type, Waiter_Type;

typedef struct {
    PyObject_HEAD
    chp_chan_t *chan;
} ChanCore;

typedef struct {
    PyObject_HEAD
    uint32_t op;
    PyObject *chan;   /* a ChanCore or None */
    PyObject *value;  /* send: the value; recv: None */
} Case;

typedef struct {
    PyObject_HEAD
    Py_ssize_t index;
    PyObject *value;
    int ok;
} Selected;

typedef struct {
    PyObject_HEAD
    chp_waiter_t *w;
    PyObject *wake;   /* None for a thread waiter, else a callable */
    PyObject *cases;  /* the armed cases (keeps their channels alive) */
} Waiter;

#define ChanCore_Check(o) PyObject_TypeCheck((o), &ChanCore_Type)

/* --- helpers ------------------------------------------------------------ */

/* Wake a waiter returned by the core and drop the core's reference. */
static void wake(chp_waiter_t *w)
{
    if (!w)
        return;
    if (chp_waiter_kind(w) == CHP_WAITER_THREAD) {
        chp_waiter_wake(w);
    } else {
        /* The owner is alive here: no Python code ran since the claim.
         * The callable may let other threads run, and the owner may finish
         * and be freed meanwhile, so hold the callable itself. */
        Waiter *owner = (Waiter *)chp_waiter_user(w);
        PyObject *cb = Py_NewRef(owner->wake);
        PyObject *et, *ev, *tb, *err = NULL, *etb = NULL, *eval = NULL;
        PyErr_Fetch(&et, &ev, &tb);  /* keep an exception in flight */
        /* The operation already took effect: the task must be woken. An
         * exception here (a signal handler's, raised at the callable's
         * first instruction) must not lose the wake-up, so call again. A
         * wake-up too many is harmless: the callables ignore one for an
         * arming that is over, and a task woken with nothing to do looks
         * at its cases again and re-arms. */
        for (int attempt = 0; attempt < 4; attempt++) {
            PyObject *r = PyObject_CallNoArgs(cb);
            if (r) {
                Py_DECREF(r);
                break;
            }
            if (!err)
                PyErr_Fetch(&err, &eval, &etb);
            else
                PyErr_Clear();
        }
        if (err) {
            if (PyErr_GivenExceptionMatches(err, PyExc_KeyboardInterrupt)) {
                /* Ctrl-C: raise it again at the next opportunity. */
                Py_XDECREF(err);
                Py_XDECREF(eval);
                Py_XDECREF(etb);
                PyErr_SetInterrupt();
            } else {
                PyErr_Restore(err, eval, etb);
                PyErr_WriteUnraisable(cb);
            }
        }
        Py_DECREF(cb);
        PyErr_Restore(et, ev, tb);
    }
    chp_waiter_unref(w);
}

static PyObject *new_selected(Py_ssize_t index, PyObject *value, int ok)
{
    Selected *s = PyObject_GC_New(Selected, &Selected_Type);
    if (!s) {
        Py_XDECREF(value);
        return NULL;
    }
    s->index = index;
    s->value = value ? value : Py_NewRef(Py_None);
    s->ok = ok;
    PyObject_GC_Track(s);
    return (PyObject *)s;
}

/* timeout: None -> -1 (no limit); a number >= 0 -> seconds; else error. */
static int parse_timeout(PyObject *t, double *out)
{
    if (t == Py_None) {
        *out = -1.0;
        return 0;
    }
    double d = PyBool_Check(t) ? -1.0 : PyFloat_AsDouble(t);
    if (PyBool_Check(t) || (d == -1.0 && PyErr_Occurred())) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "timeout must be a number of seconds or None, got %.100s",
                     Py_TYPE(t)->tp_name);
        return -1;
    }
    if (isnan(d) || d < 0) {
        PyErr_Format(PyExc_ValueError,
                     "timeout must be >= 0 seconds (0 polls) or None to wait "
                     "without limit, got %R", t);
        return -1;
    }
    *out = d;
    return 0;
}

static PyObject *raise_closed_send(void)
{
    PyErr_SetString(Closed_exc, "send on a closed channel");
    return NULL;
}

/* What a blocking call finds in chanpy._scope's contextvar: NO_SCOPE;
 * IN_SCOPE, the scope's context not cancelled (the fast path may complete
 * the call; a wait goes to the parker, which also waits on the scope's done
 * channel); CANCELLED_SCOPE (the parker raises Cancelled before touching
 * any channel: cancellation wins over readiness); -1 on error. Cancelled is
 * read as "the scope's done channel is closed": one atomic load. Outside a
 * scope this costs one cached contextvar read. */
enum { NO_SCOPE, IN_SCOPE, CANCELLED_SCOPE };
static PyObject *str_done;

/* Set once the first scope is made (mod_scopes_used): until then a
 * program that never uses a Context pays one load of this flag. */
static int scopes_used;

static int in_scope(void)
{
    if (!scopes_used || !scope_var)
        return NO_SCOPE;
    PyObject *v;
    if (PyContextVar_Get(scope_var, NULL, &v) < 0)
        return -1;
    if (!v || v == Py_None) {
        Py_XDECREF(v);
        return NO_SCOPE;
    }
    PyObject *done = PyObject_GetAttr(v, str_done);
    Py_DECREF(v);
    if (!done)
        return -1;
    int r = IN_SCOPE;
    if (!ChanCore_Check(done)) {
        PyErr_SetString(PyExc_TypeError, "a chanpy scope's done must be a Chan");
        r = -1;
    } else if (chp_chan_is_closed(((ChanCore *)done)->chan))
        r = CANCELLED_SCOPE;
    Py_DECREF(done);
    return r;
}

/* Hand a blocking operation to the Python parker: (cases, seconds, api),
 * with seconds as parse_timeout made it (a float; None for no limit). */
static PyObject *call_park(PyObject *cases, double secs, PyObject *api)
{
    if (!park_select) {
        PyErr_SetString(PyExc_RuntimeError, "chanpy._fast is not set up");
        return NULL;
    }
    PyObject *timeout = secs < 0 ? Py_NewRef(Py_None) : PyFloat_FromDouble(secs);
    if (!timeout)
        return NULL;
    PyObject *args[3] = {cases, timeout, api};
    PyObject *res = PyObject_Vectorcall(park_select, args, 3, NULL);
    Py_DECREF(timeout);
    return res;
}

/* --- ChanCore ----------------------------------------------------------- */

static PyObject *ChanCore_new(PyTypeObject *type, PyObject *args,
                              PyObject *kwds)
{
    static char *kwlist[] = {"capacity", NULL};
    PyObject *cap = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Chan", kwlist, &cap))
        return NULL;
    Py_ssize_t n = 0;
    if (cap) {
        if (!PyLong_Check(cap) || PyBool_Check(cap)) {
            PyErr_Format(PyExc_ValueError,
                         "Chan capacity must be an int >= 0 (0 for an "
                         "unbuffered channel), got %.100s %R",
                         Py_TYPE(cap)->tp_name, cap);
            return NULL;
        }
        n = PyLong_AsSsize_t(cap);
        if (n == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            n = -1;
        }
        if (n < 0 || (size_t)n > ((size_t)1 << 40)) {
            PyErr_Format(PyExc_ValueError,
                         "Chan capacity must be an int >= 0 and at most "
                         "2**40, got %R", cap);
            return NULL;
        }
    }
    ChanCore *self = (ChanCore *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->chan = chp_chan_new((size_t)n);
    if (!self->chan) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

/* Release what is still buffered. Teardown only (dealloc, or clearing
 * cyclic garbage): no waiter is notified or claimed, so no Python code
 * runs from here. */
static void drain_buffer(ChanCore *self)
{
    void *v;
    while (chp_chan_take_buffered(self->chan, &v) == CHP_OK)
        Py_XDECREF((PyObject *)v);
}

static void ChanCore_dealloc(ChanCore *self)
{
    /* Python subclasses (chanpy.Chan) reach here from subtype_dealloc,
     * which already cleared their dict and weak references. */
    PyObject_GC_UnTrack(self);
    if (self->chan) {
        /* No waiter can be registered: every armed case holds a
         * reference to its channel. */
        drain_buffer(self);
        chp_chan_free(self->chan);
        self->chan = NULL;
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

typedef struct {
    visitproc visit;
    void *arg;
} gc_visit_t;

static int visit_value(void *value, void *ctx)
{
    gc_visit_t *v = ctx;
    return value ? v->visit((PyObject *)value, v->arg) : 0;
}

/* Buffered values are references the channel holds: the collector must
 * see them, or a value referring back to its channel keeps both alive
 * forever. The GIL keeps the ring still meanwhile. */
static int ChanCore_traverse(ChanCore *self, visitproc visit, void *arg)
{
    /* ChanCore is a static type: its type needs no visit (subclasses'
     * subtype_traverse visits theirs). */
    if (!self->chan)
        return 0;
    gc_visit_t v = {visit, arg};
    return chp_chan_visit(self->chan, visit_value, &v);
}

static int ChanCore_clear(ChanCore *self)
{
    if (self->chan)
        drain_buffer(self);
    return 0;
}

/* Offer `value`; returns CHP_OK/WOULDBLOCK/CLOSED with references fixed. */
static int offer(ChanCore *self, PyObject *value)
{
    chp_waiter_t *woken;
    Py_INCREF(value);
    int r = chp_chan_try_send(self->chan, value, NULL, &woken);
    if (r != CHP_OK)
        Py_DECREF(value);
    wake(woken);
    return r;
}

/* Take a value (new reference), or return WOULDBLOCK / CLOSED (borrowed). */
static PyObject *take(ChanCore *self)
{
    chp_waiter_t *woken;
    void *v = NULL;
    int r = chp_chan_try_recv(self->chan, &v, NULL, &woken);
    wake(woken);
    if (r == CHP_OK)
        return (PyObject *)v;
    return r == CHP_CLOSED ? CLOSED : WOULDBLOCK;
}

static PyObject *ChanCore_send_nowait(ChanCore *self, PyObject *value)
{
    int r = offer(self, value);
    if (r == CHP_OK)
        Py_RETURN_NONE;
    if (r == CHP_CLOSED)
        return raise_closed_send();
    PyErr_SetString(WouldBlock_exc,
                    self->chan && chp_chan_capacity(self->chan)
                        ? "the channel's buffer is full"
                        : "no receiver is waiting on this unbuffered channel");
    return NULL;
}

static PyObject *ChanCore_recv_nowait(ChanCore *self, PyObject *unused)
{
    PyObject *v = take(self);
    if (v == CLOSED) {
        PyErr_SetString(Closed_exc, "receive on a closed, drained channel");
        return NULL;
    }
    if (v == WOULDBLOCK) {
        PyErr_SetString(WouldBlock_exc, "no value is available right now");
        return NULL;
    }
    return v;
}

static PyObject *new_case(uint32_t op, PyObject *chan, PyObject *value);

/* A blocking send or recv that must wait: park on its one case. */
static PyObject *park_one(uint32_t op, ChanCore *self, PyObject *value,
                          double secs, PyObject *api)
{
    PyObject *c = new_case(op, (PyObject *)self, value);
    if (!c)
        return NULL;
    PyObject *cases = PyTuple_Pack(1, c);
    Py_DECREF(c);
    if (!cases)
        return NULL;
    PyObject *res = call_park(cases, secs, api);
    Py_DECREF(cases);
    return res;
}

static PyObject *ChanCore_send(ChanCore *self, PyObject *const *args,
                               Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"value", "timeout"};
    PyObject *value = NULL, *timeout = Py_None;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 1 || nargs > 2) {
        if (!(nargs == 0 && nkw > 0)) {
            PyErr_SetString(PyExc_TypeError,
                            "send(value, timeout=None) takes a value");
            return NULL;
        }
    }
    if (nargs >= 1)
        value = args[0];
    if (nargs == 2)
        timeout = args[1];
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(k, names[1]) == 0) {
            if (nargs == 2) {
                PyErr_SetString(PyExc_TypeError, "send() got multiple "
                                "values for argument 'timeout'");
                return NULL;
            }
            timeout = args[nargs + i];
        }
        else if (PyUnicode_CompareWithASCIIString(k, names[0]) == 0 && !value)
            value = args[nargs + i];
        else {
            PyErr_Format(PyExc_TypeError,
                         "send() got an unexpected keyword argument %R", k);
            return NULL;
        }
    }
    if (!value) {
        PyErr_SetString(PyExc_TypeError, "send() missing the value to send");
        return NULL;
    }
    double secs;
    if (parse_timeout(timeout, &secs) < 0)
        return NULL;
    int scoped = in_scope();
    if (scoped < 0)
        return NULL;
    if (scoped != CANCELLED_SCOPE) {
        int r = offer(self, value);
        if (r == CHP_OK)
            Py_RETURN_NONE;
        if (r == CHP_CLOSED)
            return raise_closed_send();
        if (secs == 0) {
            PyErr_SetString(PyExc_TimeoutError,
                            "send timed out: the channel was not ready");
            return NULL;
        }
    }
    PyObject *res = park_one(CHP_OP_SEND, self, value, secs, API_SEND);
    if (!res)
        return NULL;
    Py_DECREF(res);
    Py_RETURN_NONE;
}

static PyObject *ChanCore_recv(ChanCore *self, PyObject *const *args,
                               Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *timeout = Py_None;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > 1 || nargs + nkw > 1) {
        PyErr_SetString(PyExc_TypeError, "recv(timeout=None) takes at most "
                                         "one argument");
        return NULL;
    }
    if (nargs == 1)
        timeout = args[0];
    if (nkw == 1) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0),
                                             "timeout") != 0) {
            PyErr_Format(PyExc_TypeError,
                         "recv() got an unexpected keyword argument %R",
                         PyTuple_GET_ITEM(kwnames, 0));
            return NULL;
        }
        timeout = args[0];
    }
    double secs;
    if (parse_timeout(timeout, &secs) < 0)
        return NULL;
    PyObject *v;
    int scoped = in_scope();
    if (scoped < 0)
        return NULL;
    if (scoped != CANCELLED_SCOPE) {
        v = take(self);
        if (v == CLOSED) {
            PyErr_SetString(Closed_exc, "receive on a closed, drained channel");
            return NULL;
        }
        if (v != WOULDBLOCK)
            return v;
        if (secs == 0) {
            PyErr_SetString(PyExc_TimeoutError,
                            "recv timed out: no value was available");
            return NULL;
        }
    }
    PyObject *res = park_one(CHP_OP_RECV, self, Py_None, secs, API_RECV);
    if (!res)
        return NULL;
    Selected *s = (Selected *)res;
    if (!s->ok) {
        Py_DECREF(res);
        PyErr_SetString(Closed_exc, "receive on a closed, drained channel");
        return NULL;
    }
    v = Py_NewRef(s->value);
    Py_DECREF(res);
    return v;
}

static PyObject *ChanCore_try_send(ChanCore *self, PyObject *value)
{
    return PyLong_FromLong(offer(self, value));
}

static PyObject *ChanCore_try_recv(ChanCore *self, PyObject *unused)
{
    PyObject *v = take(self);
    if (v == CLOSED || v == WOULDBLOCK)
        Py_INCREF(v);
    return v;
}

static PyObject *ChanCore_close(ChanCore *self, PyObject *unused)
{
    int first = chp_chan_close(self->chan);
    chp_waiter_t *w;
    while ((w = chp_chan_take_waiter(self->chan)) != NULL)
        wake(w);
    return PyBool_FromLong(first);
}

static PyObject *ChanCore_stats(ChanCore *self, PyObject *unused)
{
    return Py_BuildValue("(nnnnO)",
                         (Py_ssize_t)chp_chan_len(self->chan),
                         (Py_ssize_t)chp_chan_capacity(self->chan),
                         (Py_ssize_t)chp_chan_waiting_senders(self->chan),
                         (Py_ssize_t)chp_chan_waiting_receivers(self->chan),
                         chp_chan_is_closed(self->chan) ? Py_True : Py_False);
}

static Py_ssize_t ChanCore_len(ChanCore *self)
{
    return (Py_ssize_t)chp_chan_len(self->chan);
}

static PyObject *ChanCore_get_capacity(ChanCore *self, void *unused)
{
    return PyLong_FromSize_t(chp_chan_capacity(self->chan));
}

static PyObject *ChanCore_get_closed(ChanCore *self, void *unused)
{
    return PyBool_FromLong(chp_chan_is_closed(self->chan));
}

static PyMethodDef ChanCore_methods[] = {
    {"send", (PyCFunction)(void (*)(void))ChanCore_send,
     METH_FASTCALL | METH_KEYWORDS,
     "send(value, timeout=None)\n--\n\n"
     "Send value, blocking until a receiver takes it (unbuffered) or the "
     "buffer has room.\n\nRaises Closed if the channel is or becomes closed, "
     "TimeoutError if timeout seconds pass first (timeout=0 polls), "
     "ValueError for a negative or NaN timeout."},
    {"recv", (PyCFunction)(void (*)(void))ChanCore_recv,
     METH_FASTCALL | METH_KEYWORDS,
     "recv(timeout=None)\n--\n\n"
     "Receive a value, blocking until one is available.\n\nRaises Closed "
     "once the channel is closed and drained, TimeoutError if timeout "
     "seconds pass first (timeout=0 polls), ValueError for a negative or "
     "NaN timeout."},
    {"send_nowait", (PyCFunction)ChanCore_send_nowait, METH_O,
     "send_nowait(value)\n--\n\n"
     "Send value only if that completes right now; never blocks.\n\n"
     "Raises WouldBlock if it cannot, Closed if the channel is closed."},
    {"recv_nowait", (PyCFunction)ChanCore_recv_nowait, METH_NOARGS,
     "recv_nowait()\n--\n\n"
     "Receive a value only if one is available right now; never blocks.\n\n"
     "Raises WouldBlock if none is, Closed once closed and drained."},
    {"close", (PyCFunction)ChanCore_close, METH_NOARGS,
     "close()\n--\n\n"
     "Close the channel; never blocks. Buffered values are still "
     "delivered, then receivers get Closed; blocked and later senders get "
     "Closed. Closing again does nothing. Returns True if this call "
     "closed it."},
    {"_try_send", (PyCFunction)ChanCore_try_send, METH_O, NULL},
    {"_try_recv", (PyCFunction)ChanCore_try_recv, METH_NOARGS, NULL},
    {"_stats", (PyCFunction)ChanCore_stats, METH_NOARGS, NULL},
    {NULL}
};

static PyGetSetDef ChanCore_getset[] = {
    {"capacity", (getter)ChanCore_get_capacity, NULL,
     "Number of buffered slots (0: unbuffered).", NULL},
    {"closed", (getter)ChanCore_get_closed, NULL,
     "True once close() has been called.", NULL},
    {NULL}
};

static PySequenceMethods ChanCore_as_sequence = {
    .sq_length = (lenfunc)ChanCore_len,
};

static PyTypeObject ChanCore_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "chanpy._fast.ChanCore",
    .tp_basicsize = sizeof(ChanCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = ChanCore_new,
    .tp_dealloc = (destructor)ChanCore_dealloc,
    .tp_traverse = (traverseproc)ChanCore_traverse,
    .tp_clear = (inquiry)ChanCore_clear,
    .tp_methods = ChanCore_methods,
    .tp_getset = ChanCore_getset,
    .tp_as_sequence = &ChanCore_as_sequence,
    .tp_doc = "The native half of a channel; use chanpy.Chan.",
};

/* --- Case --------------------------------------------------------------- */

static PyObject *new_case(uint32_t op, PyObject *chan, PyObject *value)
{
    Case *c = PyObject_GC_New(Case, &Case_Type);
    if (!c)
        return NULL;
    c->op = op;
    c->chan = Py_NewRef(chan);
    c->value = Py_NewRef(value);
    PyObject_GC_Track(c);
    return (PyObject *)c;
}

static int check_chan_arg(const char *fn, PyObject *chan)
{
    if (chan == Py_None || ChanCore_Check(chan))
        return 0;
    PyErr_Format(PyExc_TypeError,
                 "%s() takes a Chan (or None for a case that is never "
                 "ready), got %.100s", fn, Py_TYPE(chan)->tp_name);
    return -1;
}

static PyObject *mod_recv(PyObject *mod, PyObject *chan)
{
    if (check_chan_arg("recv", chan) < 0)
        return NULL;
    return new_case(CHP_OP_RECV, chan, Py_None);
}

static PyObject *mod_send(PyObject *mod, PyObject *const *args,
                          Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "send(chan, value) takes 2 arguments, got %zd", nargs);
        return NULL;
    }
    if (check_chan_arg("send", args[0]) < 0)
        return NULL;
    return new_case(CHP_OP_SEND, args[0], args[1]);
}

static void Case_dealloc(Case *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->chan);
    Py_CLEAR(self->value);
    PyObject_GC_Del(self);
}

static int Case_traverse(Case *self, visitproc visit, void *arg)
{
    Py_VISIT(self->chan);
    Py_VISIT(self->value);
    return 0;
}

static PyObject *Case_repr(Case *self)
{
    if (self->op == CHP_OP_SEND)
        return PyUnicode_FromFormat("send(%R, %R)", self->chan, self->value);
    return PyUnicode_FromFormat("recv(%R)", self->chan);
}

static PyObject *Case_get_is_send(Case *self, void *unused)
{
    return PyBool_FromLong(self->op == CHP_OP_SEND);
}

static PyMemberDef Case_members[] = {
    {"chan", T_OBJECT, offsetof(Case, chan), READONLY,
     "The channel, or None (never ready)."},
    {"value", T_OBJECT, offsetof(Case, value), READONLY,
     "The value a send case offers (None for a recv case)."},
    {NULL}
};

static PyGetSetDef Case_getset[] = {
    {"is_send", (getter)Case_get_is_send, NULL, "True for a send case.",
     NULL},
    {NULL}
};

static PyTypeObject Case_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "chanpy.Case",
    .tp_basicsize = sizeof(Case),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)Case_dealloc,
    .tp_traverse = (traverseproc)Case_traverse,
    .tp_repr = (reprfunc)Case_repr,
    .tp_members = Case_members,
    .tp_getset = Case_getset,
    .tp_doc = "One case of a select; made by recv(chan) or send(chan, value).",
};

/* --- Selected ----------------------------------------------------------- */

static void Selected_dealloc(Selected *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->value);
    PyObject_GC_Del(self);
}

static int Selected_traverse(Selected *self, visitproc visit, void *arg)
{
    Py_VISIT(self->value);
    return 0;
}

static int Selected_clear(Selected *self)
{
    Py_CLEAR(self->value);
    return 0;
}

static PyObject *Selected_repr(Selected *self)
{
    return PyUnicode_FromFormat("Selected(index=%zd, value=%R, ok=%s)",
                                self->index, self->value,
                                self->ok ? "True" : "False");
}

static PyObject *Selected_get_ok(Selected *self, void *unused)
{
    return PyBool_FromLong(self->ok);
}

static PyMemberDef Selected_members[] = {
    {"index", T_PYSSIZET, offsetof(Selected, index), READONLY,
     "Position of the case that fired."},
    {"value", T_OBJECT, offsetof(Selected, value), READONLY,
     "The value received (None for a send case or a closed channel)."},
    {NULL}
};

static PyGetSetDef Selected_getset[] = {
    {"ok", (getter)Selected_get_ok, NULL,
     "False only when a recv case fired because its channel is closed and "
     "drained.", NULL},
    {NULL}
};

static PyTypeObject Selected_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "chanpy.Selected",
    .tp_basicsize = sizeof(Selected),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)Selected_dealloc,
    .tp_traverse = (traverseproc)Selected_traverse,
    .tp_clear = (inquiry)Selected_clear,
    .tp_repr = (reprfunc)Selected_repr,
    .tp_members = Selected_members,
    .tp_getset = Selected_getset,
    .tp_doc = "What select() did: index, value, ok.",
};

/* --- cases -> chp_case_t --------------------------------------------------- */

#define SMALL_CASES 16

/* Cases arrive as a tuple, or straight from select()'s argument array
 * (no tuple is built unless the call has to wait). */
#define ITEMS(tuple) (&PyTuple_GET_ITEM((tuple), 0))

/* Fill `out` from n Case objects. With `own`, INCREF every send value (the
 * core takes one reference for the case that fires). */
static int load_items(PyObject *const *items, Py_ssize_t n, chp_case_t *out,
                      int own)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = items[i];
        if (Py_TYPE(o) != &Case_Type) {
            PyErr_Format(PyExc_TypeError,
                         "select() case %zd is a %.100s, not a case: build "
                         "cases with recv(chan) or send(chan, value)",
                         i, Py_TYPE(o)->tp_name);
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Case *c = (Case *)items[i];
        out[i].op = c->op;
        out[i].chan = c->chan == Py_None ? NULL : ((ChanCore *)c->chan)->chan;
        out[i].value = c->op == CHP_OP_SEND ? c->value : NULL;
        if (own && c->op == CHP_OP_SEND)
            Py_INCREF(c->value);
    }
    return 0;
}

static int load_cases(PyObject *cases, chp_case_t *out, int own)
{
    return load_items(ITEMS(cases), PyTuple_GET_SIZE(cases), out, own);
}

/* Undo load_items' INCREFs, except for case `keep` (-1: none). */
static void release_items(PyObject *const *items, Py_ssize_t n,
                          Py_ssize_t keep)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        Case *c = (Case *)items[i];
        if (c->op == CHP_OP_SEND && i != keep)
            Py_DECREF(c->value);
    }
}

static void release_cases(PyObject *cases, Py_ssize_t keep)
{
    release_items(ITEMS(cases), PyTuple_GET_SIZE(cases), keep);
}

/* The outcome of case i (r is CHP_OK or CHP_CLOSED). */
static PyObject *outcome_item(PyObject *const *items, size_t i, int r,
                              void *value)
{
    Case *c = (Case *)items[i];
    if (r == CHP_CLOSED) {
        if (c->op == CHP_OP_SEND) {
            PyErr_Format(Closed_exc,
                         "send on a closed channel (select case %zd)",
                         (Py_ssize_t)i);
            return NULL;
        }
        return new_selected((Py_ssize_t)i, NULL, 0);
    }
    return new_selected((Py_ssize_t)i,
                        c->op == CHP_OP_RECV ? (PyObject *)value : NULL, 1);
}

static PyObject *outcome(PyObject *cases, size_t i, int r, void *value)
{
    return outcome_item(ITEMS(cases), i, r, value);
}

/* Poll the cases once; a Selected, or WOULDBLOCK (new reference). */
static PyObject *try_items(PyObject *const *items, Py_ssize_t n)
{
    chp_case_t small[SMALL_CASES];
    chp_case_t *cs = n <= SMALL_CASES ? small
                                      : PyMem_Malloc(n * sizeof *cs);
    if (!cs)
        return PyErr_NoMemory();
    PyObject *res = NULL;
    if (load_items(items, n, cs, 1) == 0) {
        size_t fired = 0;
        void *value = NULL;
        chp_waiter_t *woken;
        int r = chp_select_try(cs, (size_t)n, NULL, &fired, &value, &woken);
        Case *c = r == CHP_OK ? (Case *)items[fired] : NULL;
        /* Keep the reference of a send that took effect. */
        release_items(items, n, c && c->op == CHP_OP_SEND ? (Py_ssize_t)fired
                                                          : -1);
        wake(woken);
        if (r == CHP_NOMEM)
            PyErr_NoMemory();
        else if (r == CHP_WOULDBLOCK)
            res = Py_NewRef(WOULDBLOCK);
        else
            res = outcome_item(items, fired, r, value);
    }
    if (cs != small)
        PyMem_Free(cs);
    return res;
}

static PyObject *try_cases(PyObject *cases)
{
    return try_items(ITEMS(cases), PyTuple_GET_SIZE(cases));
}

static PyObject *mod_select_try(PyObject *mod, PyObject *cases)
{
    if (!PyTuple_Check(cases)) {
        PyErr_SetString(PyExc_TypeError, "select_try takes a tuple of cases");
        return NULL;
    }
    return try_cases(cases);
}

static PyObject *mod_select(PyObject *mod, PyObject *const *args,
                            Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *timeout = Py_None, *block = Py_True;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(k, "timeout") == 0)
            timeout = args[nargs + i];
        else if (PyUnicode_CompareWithASCIIString(k, "block") == 0)
            block = args[nargs + i];
        else {
            PyErr_Format(PyExc_TypeError,
                         "select() got an unexpected keyword argument %R", k);
            return NULL;
        }
    }
    double secs;
    if (parse_timeout(timeout, &secs) < 0)
        return NULL;
    int blocking = PyObject_IsTrue(block);
    if (blocking < 0)
        return NULL;
    /* select(block=False) is a _nowait form: it ignores cancellation. */
    int scoped = blocking ? in_scope() : NO_SCOPE;
    if (scoped < 0)
        return NULL;
    PyObject *res;
    if (scoped == CANCELLED_SCOPE)
        goto park;
    res = try_items(args, nargs);
    if (res != WOULDBLOCK)
        return res;
    Py_DECREF(res);
    if (!blocking) {
        PyErr_SetString(WouldBlock_exc, "select(block=False): no case is ready");
        return NULL;
    }
    if (secs == 0) {
        PyErr_SetString(PyExc_TimeoutError,
                        "select timed out: no case was ready");
        return NULL;
    }
park:;
    PyObject *cases = PyTuple_New(nargs);
    if (!cases)
        return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++)
        PyTuple_SET_ITEM(cases, i, Py_NewRef(args[i]));
    res = call_park(cases, secs, API_SELECT);
    Py_DECREF(cases);
    return res;
}

/* --- Waiter ------------------------------------------------------------- */

static PyObject *Waiter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"wake", NULL};
    PyObject *wake_cb = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:Waiter", kwlist,
                                     &wake_cb))
        return NULL;
    if (wake_cb != Py_None && !PyCallable_Check(wake_cb)) {
        PyErr_SetString(PyExc_TypeError, "Waiter(wake): wake must be callable");
        return NULL;
    }
    Waiter *self = (Waiter *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->wake = Py_NewRef(wake_cb);
    self->cases = NULL;
    self->w = chp_waiter_new(wake_cb == Py_None ? CHP_WAITER_THREAD
                                                : CHP_WAITER_TASK,
                             self);
    if (!self->w) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static PyObject *Waiter_disarm_impl(Waiter *self);
static PyObject *Waiter_abort(Waiter *self, PyObject *unused);

static void Waiter_dealloc(Waiter *self)
{
    PyObject_GC_UnTrack(self);
    if (self->cases) {
        /* Dropped while armed (an abandoned coroutine): leave without
         * taking anything; a value already handed over has no one left to
         * receive it and is released. Keep any exception in flight. */
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        PyObject *r = Waiter_abort(self, NULL);
        if (r == Py_False) {
            Py_DECREF(r);
            r = Waiter_disarm_impl(self);
        }
        if (r)
            Py_DECREF(r);
        else
            PyErr_WriteUnraisable((PyObject *)self);
        PyErr_Restore(et, ev, tb);
    }
    if (self->w)
        chp_waiter_unref(self->w);
    Py_CLEAR(self->wake);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Waiter_traverse(Waiter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->wake);
    Py_VISIT(self->cases);
    return 0;
}

static PyObject *Waiter_arm(Waiter *self, PyObject *cases)
{
    if (!PyTuple_Check(cases)) {
        PyErr_SetString(PyExc_TypeError, "arm takes a tuple of cases");
        return NULL;
    }
    if (self->cases) {
        PyErr_SetString(PyExc_RuntimeError, "this waiter is already armed");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(cases);
    chp_case_t small[SMALL_CASES];
    chp_case_t *cs = n <= SMALL_CASES ? small
                                      : PyMem_Malloc(n * sizeof *cs);
    if (!cs)
        return PyErr_NoMemory();
    PyObject *res = NULL;
    if (load_cases(cases, cs, 1) == 0) {
        int r = chp_select_arm(self->w, cs, (size_t)n);
        if (r < 0) {
            release_cases(cases, -1);
            PyErr_NoMemory();
        } else {
            self->cases = Py_NewRef(cases);
            res = PyBool_FromLong(r);
        }
    }
    if (cs != small)
        PyMem_Free(cs);
    return res;
}

/* Unregister; return a Selected if a case took effect, else WOULDBLOCK.
 * NOTIFIED|i retries case i here, once, so the notification is used. */
static PyObject *Waiter_disarm_impl(Waiter *self)
{
    PyObject *cases = self->cases;
    if (!cases)
        return Py_NewRef(WOULDBLOCK);
    uint32_t st = chp_select_disarm(self->w);
    uint32_t tag = st & 3u, i = st >> 2;
    Py_ssize_t keep = -1;
    if (tag == CHP_W_DONE)
        keep = (Py_ssize_t)i;  /* that send's reference moved on */
    release_cases(cases, keep);
    self->cases = NULL;
    PyObject *res;
    if (tag == CHP_W_DONE) {
        Case *c = (Case *)PyTuple_GET_ITEM(cases, i);
        void *v = c->op == CHP_OP_RECV ? chp_waiter_take_value(self->w, i)
                                       : NULL;
        res = outcome(cases, i, CHP_OK, v);
    } else if (tag == CHP_W_NOTIFIED) {
        /* The notice was for case i: try it again, as a plain send or
         * receive would. */
        Case *c = (Case *)PyTuple_GET_ITEM(cases, i);
        PyObject *v = NULL;
        int r = CHP_WOULDBLOCK;
        if (c->chan != Py_None && c->op == CHP_OP_SEND) {
            r = offer((ChanCore *)c->chan, c->value);
        } else if (c->chan != Py_None) {
            v = take((ChanCore *)c->chan);
            r = v == WOULDBLOCK ? CHP_WOULDBLOCK
              : v == CLOSED     ? CHP_CLOSED : CHP_OK;
        }
        res = r == CHP_WOULDBLOCK ? Py_NewRef(WOULDBLOCK)
                                  : outcome(cases, i, r, r == CHP_OK ? v : NULL);
    } else {
        res = Py_NewRef(WOULDBLOCK);
    }
    Py_DECREF(cases);
    return res;
}

static PyObject *Waiter_disarm(Waiter *self, PyObject *unused)
{
    return Waiter_disarm_impl(self);
}

/* For a cancellation or an interruption: leave unless a value moved.
 * True: nothing took effect and the waiter is unarmed. That covers a
 * NOTIFIED waiter too: it never retries, and passes the notification on
 * so that another waiter takes what it was told about.
 * False: a counterpart completed a case (DONE); the waiter stays armed
 * and disarm() returns the result. Never blocks. */
static PyObject *Waiter_abort(Waiter *self, PyObject *unused)
{
    if (!self->cases)
        Py_RETURN_TRUE;
    uint32_t st = chp_select_disarm(self->w);
    uint32_t tag = st & 3u, i = st >> 2;
    if (tag == CHP_W_DONE)
        Py_RETURN_FALSE;
    PyObject *cases = self->cases;
    self->cases = NULL;
    release_cases(cases, -1);
    if (tag == CHP_W_NOTIFIED) {
        Case *c = (Case *)PyTuple_GET_ITEM(cases, i);
        if (c->chan != Py_None)
            wake(chp_chan_pass_notification(((ChanCore *)c->chan)->chan,
                                            c->op));
    }
    Py_DECREF(cases);
    Py_RETURN_TRUE;
}

static PyObject *Waiter_get_state(Waiter *self, void *unused)
{
    return PyLong_FromUnsignedLong(chp_waiter_state(self->w));
}

static PyObject *Waiter_get_address(Waiter *self, void *unused)
{
    return PyLong_FromVoidPtr(self->w);
}

static PyObject *Waiter_get_armed(Waiter *self, void *unused)
{
    return PyBool_FromLong(self->cases != NULL);
}

static PyMethodDef Waiter_methods[] = {
    {"arm", (PyCFunction)Waiter_arm, METH_O,
     "arm(cases) -> bool: register on every case, re-check; True means "
     "wait for a wake-up, False means disarm now."},
    {"disarm", (PyCFunction)Waiter_disarm, METH_NOARGS,
     "disarm() -> Selected | WOULDBLOCK: abort if still waiting, "
     "unregister, and report what took effect."},
    {"abort", (PyCFunction)Waiter_abort, METH_NOARGS,
     "abort() -> bool: True if nothing took effect (now unarmed; a "
     "notification is passed on); False if a case completed (a wake-up is "
     "coming; disarm() returns the result)."},
    {NULL}
};

static PyGetSetDef Waiter_getset[] = {
    {"state", (getter)Waiter_get_state, NULL, "The raw state word.", NULL},
    {"address", (getter)Waiter_get_address, NULL,
     "Address of the chp_waiter_t (for cffi).", NULL},
    {"armed", (getter)Waiter_get_armed, NULL, "True between arm and disarm.",
     NULL},
    {NULL}
};

static PyTypeObject Waiter_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "chanpy._fast.Waiter",
    .tp_basicsize = sizeof(Waiter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Waiter_new,
    .tp_dealloc = (destructor)Waiter_dealloc,
    .tp_traverse = (traverseproc)Waiter_traverse,
    .tp_methods = Waiter_methods,
    .tp_getset = Waiter_getset,
    .tp_doc = "One blocked operation's registration (internal).",
};

/* --- module ------------------------------------------------------------- */

static PyObject *mod_setup(PyObject *mod, PyObject *args)
{
    PyObject *closed, *wouldblock, *park, *scope = NULL;
    if (!PyArg_ParseTuple(args, "OOO|O:_setup", &closed, &wouldblock, &park,
                          &scope))
        return NULL;
    if (scope && !PyContextVar_CheckExact(scope)) {
        PyErr_SetString(PyExc_TypeError, "_setup: scope must be a ContextVar");
        return NULL;
    }
    Py_XSETREF(scope_var, Py_XNewRef(scope));
    if (!str_done && !(str_done = PyUnicode_InternFromString("done")))
        return NULL;
    Py_XSETREF(Closed_exc, Py_NewRef(closed));
    Py_XSETREF(WouldBlock_exc, Py_NewRef(wouldblock));
    Py_XSETREF(park_select, Py_NewRef(park));
    Py_RETURN_NONE;
}

static PyObject *mod_scopes_used(PyObject *mod, PyObject *unused)
{
    scopes_used = 1;
    Py_RETURN_NONE;
}

static PyObject *mod_timeout_seconds(PyObject *mod, PyObject *t)
{
    double secs;
    if (parse_timeout(t, &secs) < 0)
        return NULL;
    return PyFloat_FromDouble(secs);
}

static PyObject *mod_version(PyObject *mod, PyObject *unused)
{
    return PyUnicode_FromString(chp_version());
}

static PyMethodDef mod_methods[] = {
    {"recv", (PyCFunction)mod_recv, METH_O,
     "recv(chan)\n--\n\n"
     "A select case that receives from chan. chan=None makes a case that is "
     "never ready. Raises TypeError if chan is not a Chan or None."},
    {"send", (PyCFunction)(void (*)(void))mod_send, METH_FASTCALL,
     "send(chan, value)\n--\n\n"
     "A select case that sends value on chan. chan=None makes a case that "
     "is never ready. Raises TypeError if chan is not a Chan or None."},
    {"select", (PyCFunction)(void (*)(void))mod_select,
     METH_FASTCALL | METH_KEYWORDS,
     "select(*cases, timeout=None, block=True)\n--\n\n"
     "Complete exactly one of the cases and say which.\n\n"
     "Picks uniformly at random among the cases ready now. If none is "
     "ready it blocks until one is (block=True), raises TimeoutError once "
     "timeout seconds pass (timeout=0 polls), or raises WouldBlock at once "
     "(block=False). A send case chosen on a closed channel raises Closed; "
     "a recv case on a closed, drained channel fires with ok=False. Raises "
     "TypeError for an argument that is not a case and ValueError for a "
     "negative or NaN timeout, before touching any channel."},
    {"select_try", (PyCFunction)mod_select_try, METH_O,
     "select_try(cases) -> Selected | WOULDBLOCK (internal)."},
    {"timeout_seconds", (PyCFunction)mod_timeout_seconds, METH_O,
     "timeout_seconds(timeout) -> float: seconds, or -1.0 for None. The "
     "same checks (TypeError, ValueError) as every blocking call."},
    {"_setup", (PyCFunction)mod_setup, METH_VARARGS, NULL},
    {"_scopes_used", (PyCFunction)mod_scopes_used, METH_NOARGS, NULL},
    {"version", (PyCFunction)mod_version, METH_NOARGS,
     "The version baked into the native library."},
    {NULL}
};

static int mod_exec(PyObject *m)
{
    if (!WOULDBLOCK) {
        WOULDBLOCK = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
        CLOSED = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
        API_SEND = PyUnicode_InternFromString("send");
        API_RECV = PyUnicode_InternFromString("recv");
        API_SELECT = PyUnicode_InternFromString("select");
        if (!WOULDBLOCK || !CLOSED || !API_SEND || !API_RECV || !API_SELECT)
            return -1;
    }
    PyTypeObject *types[] = {&ChanCore_Type, &Case_Type, &Selected_Type,
                             &Waiter_Type};
    const char *names[] = {"ChanCore", "Case", "Selected", "Waiter"};
    for (int i = 0; i < 4; i++) {
        if (PyType_Ready(types[i]) < 0)
            return -1;
        if (PyModule_AddObjectRef(m, names[i], (PyObject *)types[i]) < 0)
            return -1;
    }
    if (PyModule_AddObjectRef(m, "WOULDBLOCK", WOULDBLOCK) < 0
        || PyModule_AddObjectRef(m, "CLOSED", CLOSED) < 0
        || PyModule_AddIntConstant(m, "W_WAITING", CHP_W_WAITING) < 0)
        return -1;
    return 0;
}

static PyModuleDef_Slot mod_slots[] = {
    {Py_mod_exec, mod_exec},
    {0, NULL}
};

static struct PyModuleDef fast_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "chanpy._fast",
    .m_doc = "GIL-held entry points of chanpy's channel core.",
    .m_size = 0,
    .m_methods = mod_methods,
    .m_slots = mod_slots,
};

PyMODINIT_FUNC PyInit__fast(void)
{
    return PyModuleDef_Init(&fast_module);
}
