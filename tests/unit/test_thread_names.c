#include "unit.h"
int main(void) { CHECK(0, "test_thread_names not written yet"); return unit_done(); }
