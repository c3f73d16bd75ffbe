/* SPDX-License-Identifier: MIT */
#include <linux/netlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/debug.h"
#include "helper/audit.h"

/* Not in the kernel's UAPI headers: include/uapi/linux/audit.h's user range. */
#define AUDIT_TRUSTED_APP 1121
#define AUDIT_TEXT_MAX 1024

static void nl_socket_freep(struct nl_sock **sk)
{
	if (*sk)
		nl_socket_free(*sk);
}

static void nlmsg_freep(struct nl_msg **m)
{
	if (*m)
		nlmsg_free(*m);
}

int audit_log(const char *fmt, ...)
{
	_cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
	_cleanup_(nlmsg_freep) struct nl_msg *msg = NULL;
	char text[AUDIT_TEXT_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (r < 0)
		return -EINVAL;
	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	/*
	 * The answer is one ack of 36 bytes: read it at once, not peeked at
	 * first for its size (libnl's default: a second recvmsg per record).
	 */
	nl_socket_disable_msg_peek(sk);
	r = nl_connect(sk, NETLINK_AUDIT);
	if (r == 0) {
		msg = nlmsg_alloc_simple(AUDIT_TRUSTED_APP, 0);
		if (!msg)
			return -ENOMEM;
		r = nlmsg_append(msg, text, strlen(text) + 1, NLMSG_ALIGNTO);
	}
	if (r == 0)
		r = nl_send_auto(sk, msg);
	if (r >= 0)
		r = nl_wait_for_ack(sk);
	debug(DEBUG_STATE, "audit", "%s: %s", text, r < 0 ? nl_geterror(r) : "sent");
	return r < 0 ? -EIO : 0;
}
