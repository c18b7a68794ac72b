#include "unit.h"
int main(void) { CHECK(0, "test_layouts not written yet"); return unit_done(); }
