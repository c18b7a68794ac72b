/* C++ symbol names made readable ("_ZN3foo3barEv" -> "foo::bar()"). */
#ifndef PYTOP_NATIVE_DEMANGLE_H
#define PYTOP_NATIVE_DEMANGLE_H

/* The demangled form of an Itanium-ABI mangled name, malloc'd (caller
 * frees), or NULL when name is not mangled, cannot be demangled, or
 * pytop was built without a demangler. */
char *native_demangle(const char *name);

#endif
