/* Symbols and sections of an ELF file, read with libelf.
 *
 * Only what pytop needs from a Python binary or libpython: data and
 * function symbols from .dynsym and .symtab, section bounds (.data, .bss, .PyRuntime,
 * .rodata) and the first PT_LOAD's address, from which the load bias of a
 * mapping is derived. */
#ifndef PYTOP_ELF_SYMBOLS_H
#define PYTOP_ELF_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

struct elf_symbols;   /* opaque */

struct elf_section_info {
    uint64_t addr;        /* link-time virtual address */
    uint64_t size;
    uint64_t offset;      /* file offset (0 for NOBITS) */
    int nobits;
};

/* Open path and load its symbol tables. Returns 0 and *out, -errno when the
 * file cannot be opened, -PT_ERR_FORMAT when it is not a usable ELF. */
int elf_symbols_open(const char *path, struct elf_symbols **out);
void elf_symbols_free(struct elf_symbols *e);   /* NULL is fine */

/* Link-time address of a symbol (either table); 0 and *addr, or
 * -PT_ERR_NO_SYMBOL. size may be NULL. */
int elf_symbols_lookup(const struct elf_symbols *e, const char *name, uint64_t *addr,
                       uint64_t *size);

/* Section by name (".data", ".bss", ".PyRuntime", ".rodata"). */
int elf_symbols_section(const struct elf_symbols *e, const char *name,
                        struct elf_section_info *out);

/* Copy up to cap bytes of a PROGBITS section's file contents into a malloc'd
 * buffer (caller frees). */
int elf_symbols_section_data(const struct elf_symbols *e, const char *name, size_t cap,
                             uint8_t **data, size_t *len);

/* The lowest PT_LOAD segment's p_vaddr and p_offset. The load bias of a
 * mapping of this file at runtime is map_start - map_offset -
 * (vaddr - offset) for the mapping whose file offset covers that segment;
 * elf_load_bias() does this arithmetic. */
int elf_symbols_first_load(const struct elf_symbols *e, uint64_t *vaddr, uint64_t *offset);
uint64_t elf_load_bias(uint64_t map_start, uint64_t map_offset, uint64_t load_vaddr,
                       uint64_t load_offset);

/* Whether the file has a .symtab (i.e. is not stripped). */
int elf_symbols_has_symtab(const struct elf_symbols *e);

#endif
