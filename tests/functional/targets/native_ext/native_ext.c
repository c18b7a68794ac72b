/* A small extension module for the --native tests: ext_spin(callback, n)
 * spins in C (spin_in_c), then in C++ (pytop_test::Spinner::spin), then
 * calls callback, a Python function that spins in Python. Builds against
 * Python 2.7 and 3.x headers. */
#include <Python.h>

double pytop_test_spin_cxx(long n);   /* native_ext_cxx.cpp */

__attribute__((noinline)) double spin_in_c(long n)
{
    volatile double x = 0;
    for (long i = 0; i < n; i++)
        x += (double)i * 0.5;
    return x;
}

__attribute__((noinline)) static PyObject *ext_spin(PyObject *self, PyObject *args)
{
    PyObject *callback;
    long n;
    (void)self;
    if (!PyArg_ParseTuple(args, "Ol", &callback, &n))
        return NULL;
    double x = spin_in_c(n);
    x += pytop_test_spin_cxx(n);
    PyObject *r = PyObject_CallObject(callback, NULL);
    if (!r)
        return NULL;
    Py_DECREF(r);
    /* Not a tail call: ext_spin stays on the stack under the callback. */
    return PyFloat_FromDouble(x);
}

static PyMethodDef methods[] = {
    { "spin", ext_spin, METH_VARARGS, "spin in C and C++, then call back" },
    { NULL, NULL, 0, NULL },
};

#if PY_MAJOR_VERSION >= 3
static struct PyModuleDef module = { PyModuleDef_HEAD_INIT, "native_ext", NULL, -1, methods,
                                     NULL, NULL, NULL, NULL };

PyMODINIT_FUNC PyInit_native_ext(void)
{
    return PyModule_Create(&module);
}
#else
PyMODINIT_FUNC initnative_ext(void)
{
    Py_InitModule("native_ext", methods);
}
#endif
