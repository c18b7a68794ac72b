// The C++ half of native_ext: a namespaced method, so that --native has a
// mangled name to demangle (pytop_test::Spinner::spin(long)).
namespace pytop_test {

class Spinner {
public:
    __attribute__((noinline)) double spin(long n);
};

double Spinner::spin(long n)
{
    volatile double x = 0;
    for (long i = 0; i < n; i++)
        x += (double)i * 0.25;
    return x;
}

}  // namespace pytop_test

extern "C" double pytop_test_spin_cxx(long n)
{
    pytop_test::Spinner s;
    return s.spin(n);
}
