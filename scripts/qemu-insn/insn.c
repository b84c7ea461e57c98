/*
 * insn.c: a qemu-user TCG plugin that counts the guest instructions a
 * program executes, across all its threads, and writes the total to a
 * file when the program exits.
 *
 *   gcc -shared -fPIC -O2 -o libinsn.so insn.c
 *   qemu-mipsel -plugin ./libinsn.so,out=/tmp/count ./prog
 *
 * Debian 12's qemu (7.2) speaks plugin API version 1 and ships no
 * qemu-plugin.h, so the few declarations used are written out below, as
 * the API documents them. Each translated block adds its instruction
 * count when it runs; the add is atomic because qemu-user runs every
 * guest thread on its own host thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
					  enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t total;
static char *out_path;

static void on_exec(unsigned int vcpu, void *n)
{
	(void)vcpu;
	__atomic_fetch_add(&total, (uint64_t)(uintptr_t)n, __ATOMIC_RELAXED);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	qemu_plugin_register_vcpu_tb_exec_cb(tb, on_exec, QEMU_PLUGIN_CB_NO_REGS,
					     (void *)(uintptr_t)qemu_plugin_tb_n_insns(tb));
}

static void on_program_exit(qemu_plugin_id_t id, void *p)
{
	(void)id;
	(void)p;
	FILE *f = out_path ? fopen(out_path, "w") : stderr;
	if (!f)
		return;
	fprintf(f, "%llu\n", (unsigned long long)__atomic_load_n(&total, __ATOMIC_RELAXED));
	if (f != stderr)
		fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
								int argc, char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "out=", 4) == 0)
			out_path = strdup(argv[i] + 4);
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_program_exit, NULL);
	return 0;
}
