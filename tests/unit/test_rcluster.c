/*
 * test_rcluster.c - the pure parts of the Redis Cluster client (rcluster.h):
 * CRC16 and key slots against the cluster specification's vectors and
 * what redis-server's CLUSTER KEYSLOT answers, hash tags, redirect and URL
 * parsing, which argument routes a command, and the topology read from a
 * CLUSTER SHARDS reply captured from a real 3+3 Redis 7.0 cluster (parsed
 * by hiredis's own reader, as the client gets it).
 *
 * The client itself (connections, redirects, failover) is tested against
 * a real cluster in tests/integration/cluster*.test.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rcluster.h"
#include "store.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

static unsigned slot_of(const char *key)
{
    return rcluster_key_slot(key, strlen(key));
}

static void test_crc16_vectors(void **state)
{
    (void)state;
    /* The cluster specification's test vector (keyHashSlot, CRC16/XMODEM). */
    assert_int_equal(rcluster_crc16("123456789", 9), 0x31C3);
    assert_int_equal(rcluster_crc16("", 0), 0);
    /* CLUSTER KEYSLOT answers of redis-server 7.0 */
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("bar"), 5061);
    assert_int_equal(slot_of("123456789"), 0x31C3);
    assert_int_equal(slot_of("sm:{demo}:seq"), 903);
}

static void test_hash_tags(void **state)
{
    (void)state;
    /* all keys of a show share its slot */
    assert_int_equal(slot_of("sm:{demo}:seat:A-1"), slot_of("demo"));
    assert_int_equal(slot_of("sm:{demo}:ip:127.0.0.1"), slot_of("demo"));
    assert_int_equal(slot_of("sm:{demo}:events"), slot_of("demo"));
    assert_int_equal(slot_of("sm:{jobs}:queue"), slot_of("sm:{jobs}:retry"));
    /* the spec's examples: the first '{' and the next '}' */
    assert_int_equal(slot_of("{user1000}.following"), slot_of("{user1000}.followers"));
    assert_int_equal(slot_of("foo{}{bar}"), rcluster_crc16("foo{}{bar}", 10) & 16383);
    assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
    assert_int_equal(slot_of("no{close"), rcluster_crc16("no{close", 8) & 16383);
}

static void test_redirects(void **state)
{
    char host[64];
    unsigned slot = 0;
    int port = 0;
    (void)state;
    assert_int_equal(
        rcluster_parse_redirect("MOVED 3999 127.0.0.1:6381", &slot, host, sizeof(host), &port),
        RCLUSTER_MOVED);
    assert_int_equal(slot, 3999);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6381);
    assert_int_equal(
        rcluster_parse_redirect("ASK 16383 redis-2.example:7000", &slot, host, sizeof(host), &port),
        RCLUSTER_ASK);
    assert_int_equal(slot, 16383);
    assert_string_equal(host, "redis-2.example");
    assert_int_equal(port, 7000);
    assert_int_equal(rcluster_parse_redirect("ASK 1 ::1:7000", &slot, host, sizeof(host), &port),
                     RCLUSTER_ASK);
    assert_string_equal(host, "::1");
    /* not redirects, or broken ones */
    assert_int_equal(
        rcluster_parse_redirect("TRYAGAIN Multiple keys", &slot, host, sizeof(host), &port),
        RCLUSTER_NOT_REDIRECT);
    assert_int_equal(rcluster_parse_redirect("MOVED 16384 h:1", &slot, host, sizeof(host), &port),
                     RCLUSTER_NOT_REDIRECT);
    assert_int_equal(rcluster_parse_redirect("MOVED x h:1", &slot, host, sizeof(host), &port),
                     RCLUSTER_NOT_REDIRECT);
    assert_int_equal(rcluster_parse_redirect("MOVED 1 h", &slot, host, sizeof(host), &port),
                     RCLUSTER_NOT_REDIRECT);
    assert_int_equal(rcluster_parse_redirect("MOVED 1 h:99999", &slot, host, sizeof(host), &port),
                     RCLUSTER_NOT_REDIRECT);
    assert_int_equal(rcluster_parse_redirect("MOVED 1 a-very-long-host:1", &slot, host, 4, &port),
                     RCLUSTER_NOT_REDIRECT);
}

/* The error texts are Redis 7.0's own, as seen while a slot moves. */
static void test_error_kinds(void **state)
{
    (void)state;
    assert_int_equal(rcluster_error_kind("MOVED 903 127.0.0.1:7001"), RCLUSTER_ERR_MOVED);
    assert_int_equal(rcluster_error_kind("ASK 903 127.0.0.1:7001"), RCLUSTER_ERR_ASK);
    assert_int_equal(rcluster_error_kind("TRYAGAIN Multiple keys request during rehashing of slot"),
                     RCLUSTER_ERR_TRYAGAIN);
    assert_int_equal(rcluster_error_kind("CLUSTERDOWN The cluster is down"),
                     RCLUSTER_ERR_CLUSTERDOWN);
    assert_int_equal(rcluster_error_kind("ERR Script attempted to access a non local key in a "
                                         "cluster node script: d40e75d9, on @user_script:1."),
                     RCLUSTER_ERR_MIGRATING);
    assert_int_equal(rcluster_error_kind("ERR Script attempted to execute a command while the "
                                         "cluster is down script: d40e75d9, on @user_script:1."),
                     RCLUSTER_ERR_CLUSTERDOWN);
    /* answers, not redirects: a malformed redirect, a script's own error */
    assert_int_equal(rcluster_error_kind("MOVED x h:1"), RCLUSTER_ERR_ANSWER);
    assert_int_equal(rcluster_error_kind("NOSCRIPT No matching script"), RCLUSTER_ERR_ANSWER);
    assert_int_equal(rcluster_error_kind("ERR Script attempted to access keys that do not hash"),
                     RCLUSTER_ERR_ANSWER);
    assert_int_equal(rcluster_error_kind(""), RCLUSTER_ERR_ANSWER);
    assert_null(rcluster_error_label(RCLUSTER_ERR_ANSWER));
    assert_string_equal(rcluster_error_label(RCLUSTER_ERR_MOVED), "moved");
    assert_string_equal(rcluster_error_label(RCLUSTER_ERR_ASK), "ask");
    assert_string_equal(rcluster_error_label(RCLUSTER_ERR_TRYAGAIN), "tryagain");
    assert_string_equal(rcluster_error_label(RCLUSTER_ERR_CLUSTERDOWN), "clusterdown");
    assert_string_equal(rcluster_error_label(RCLUSTER_ERR_MIGRATING), "migrating");
}

static void test_urls(void **state)
{
    rcluster_addr s[RCLUSTER_MAX_SEEDS];
    int n = 0;
    (void)state;
    assert_true(rcluster_is_url("redis+cluster://h:1"));
    assert_false(rcluster_is_url("redis://h:1"));
    assert_int_equal(
        rcluster_parse_url("redis+cluster://127.0.0.1:7000,h2:7001,h3", s, RCLUSTER_MAX_SEEDS, &n),
        0);
    assert_int_equal(n, 3);
    assert_string_equal(s[0].host, "127.0.0.1");
    assert_int_equal(s[0].port, 7000);
    assert_string_equal(s[1].host, "h2");
    assert_int_equal(s[1].port, 7001);
    assert_string_equal(s[2].host, "h3");
    assert_int_equal(s[2].port, 6379);
    assert_int_equal(rcluster_parse_url("redis+cluster://h:1/", s, RCLUSTER_MAX_SEEDS, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rcluster_parse_url("redis+cluster://", s, RCLUSTER_MAX_SEEDS, &n), -1);
    assert_int_equal(rcluster_parse_url("redis+cluster://h:1,", s, RCLUSTER_MAX_SEEDS, &n), -1);
    assert_int_equal(rcluster_parse_url("redis+cluster://h:1/0", s, RCLUSTER_MAX_SEEDS, &n), -1);
    assert_int_equal(rcluster_parse_url("redis+cluster://h:0", s, RCLUSTER_MAX_SEEDS, &n), -1);
    assert_int_equal(rcluster_parse_url("redis+cluster://h x:1", s, RCLUSTER_MAX_SEEDS, &n), -1);
    assert_int_equal(rcluster_parse_url("redis+cluster://a:1,b:2,c:3", s, 2, &n), -1);
    /* the store takes both kinds, and says what is wrong with a bad one */
    assert_int_equal(store_check_url("redis+cluster://h:1,h:2"), 0);
    assert_int_equal(store_check_url("redis://h:1/0"), 0);
    assert_int_equal(store_check_url("redis+cluster://h:1/3"), STORE_URL_ECLUSTER);
    assert_true(strstr(store_strerror(STORE_URL_ECLUSTER), "HOST:PORT") != NULL);
}

static void test_key_index(void **state)
{
    const char *get[2] = {"GET", "k"};
    const char *evalsha[5] = {"EVALSHA", "0123", "1", "sm:{x}:seq", "a"};
    const char *eval0[3] = {"EVAL", "return 1", "0"};
    const char *xgroup[6] = {"XGROUP", "CREATE", "sm:{x}:events", "g", "0", "MKSTREAM"};
    const char *xrg[9] = {"XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "k", ">"};
    const char *pub[3] = {"PUBLISH", "ch", "m"};
    const char *script[3] = {"SCRIPT", "LOAD", "return 1"};
    (void)state;
    assert_int_equal(rcluster_key_index(2, get), 1);
    assert_int_equal(rcluster_key_index(5, evalsha), 3);
    assert_int_equal(rcluster_key_index(3, eval0), -1);
    assert_int_equal(rcluster_key_index(6, xgroup), 2);
    assert_int_equal(rcluster_key_index(9, xrg), 7);
    assert_int_equal(rcluster_key_index(3, pub), -1);
    assert_int_equal(rcluster_key_index(3, script), -1);
}

/* CLUSTER SHARDS of a real 3 masters + 3 replicas Redis 7.0.15 cluster. */
static const char shards_resp[] =
    "*3\r\n*4\r\n$5\r\nslots\r\n*2\r\n:10923\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n"
    "*14\r\n$2\r\nid\r\n$40\r\n9a1dc9449cd208e3b3bda3f69818c2224d66921f\r\n$4\r\n"
    "port\r\n:41279\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n"
    "127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n"
    ":0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\nid\r\n$"
    "40\r\ne34966c24eafc9422a4b03ea3c573b58254f77c6\r\n"
    "$4\r\nport\r\n:40161\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n"
    "$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n"
    ":0\r\n$6\r\nhealth\r\n$7\r\nloading\r\n*4\r\n$5\r\nslots\r\n*2\r\n:5461\r\n"
    ":10922\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\nid\r\n$"
    "40\r\n955dabbd53e13a9e5fce9dd7c264e6c360cc5050\r\n"
    "$4\r\nport\r\n:34813\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n"
    "$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n"
    ":0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\nid\r\n$"
    "40\r\nee5d55ada3ec657a041f77eb3f37b69b008947b7\r\n"
    "$4\r\nport\r\n:39451\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n"
    "$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n"
    ":0\r\n$6\r\nhealth\r\n$7\r\nloading\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n"
    ":5460\r\n$5\r\nnodes\r\n*2\r\n*14\r\n$2\r\nid\r\n$"
    "40\r\nc97d743302d86432b6d9d3a5fde82737205cb865\r\n"
    "$4\r\nport\r\n:46713\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n"
    "$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$18\r\nreplication-offset\r\n"
    ":0\r\n$6\r\nhealth\r\n$6\r\nonline\r\n*14\r\n$2\r\nid\r\n$"
    "40\r\n2b8ee5599534be83dd169b40f641a91966de40e2\r\n"
    "$4\r\nport\r\n:38425\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n"
    "$9\r\n127.0.0.1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n$18\r\nreplication-offset\r\n"
    ":0\r\n$6\r\nhealth\r\n$7\r\nloading\r\n";

/* One shard whose master claims slot 16384. */
static const char bad_range[] =
    "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:5\r\n:16384\r\n$5\r\nnodes\r\n*1\r\n*6\r\n"
    "$4\r\nrole\r\n$6\r\nmaster\r\n$2\r\nip\r\n$1\r\nh\r\n$4\r\nport\r\n:1\r\n";

static redisReply *parse_resp(const char *text, size_t len)
{
    redisReader *r = redisReaderCreate();
    void *reply = NULL;
    assert_non_null(r);
    assert_int_equal(redisReaderFeed(r, text, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    redisReaderFree(r);
    assert_non_null(reply);
    return reply;
}

static void test_shards(void **state)
{
    rcluster_topo *t = malloc(sizeof(*t));
    redisReply *reply = parse_resp(shards_resp, sizeof(shards_resp) - 1);
    int s;
    (void)state;
    assert_non_null(t);
    assert_int_equal(rcluster_parse_shards(reply, t), 0);
    assert_int_equal(t->nmasters, 3);
    assert_int_equal(t->nreplicas, 3);
    assert_string_equal(t->masters[0].host, "127.0.0.1");
    assert_int_equal(t->masters[0].port, 41279);
    assert_int_equal(t->masters[1].port, 34813);
    assert_int_equal(t->masters[2].port, 46713);
    for (s = 0; s < RCLUSTER_SLOTS; s++)
        assert_int_not_equal(t->owner[s], 0);
    assert_int_equal(t->owner[0], 3);
    assert_int_equal(t->owner[5460], 3);
    assert_int_equal(t->owner[5461], 2);
    assert_int_equal(t->owner[10922], 2);
    assert_int_equal(t->owner[10923], 1);
    assert_int_equal(t->owner[16383], 1);
    freeReplyObject(reply);

    /* not a shards reply: refused */
    reply = parse_resp("+OK\r\n", 5);
    assert_int_equal(rcluster_parse_shards(reply, t), -1);
    freeReplyObject(reply);
    reply = parse_resp("*1\r\n*2\r\n$5\r\nslots\r\n:1\r\n", 23);
    assert_int_equal(rcluster_parse_shards(reply, t), -1);
    freeReplyObject(reply);
    /* slots out of range */
    reply = parse_resp(bad_range, sizeof(bad_range) - 1);
    assert_int_equal(rcluster_parse_shards(reply, t), -1);
    freeReplyObject(reply);
    free(t);
}

static void test_pubsub_kind(void **state)
{
    static const char msg[] = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\n1\r\n";
    static const char ok[] = "+OK\r\n";
    static const char two[] = "*2\r\n$7\r\nmessage\r\n$2\r\nch\r\n";
    redisReply *r = parse_resp(msg, sizeof(msg) - 1);
    (void)state;
    assert_string_equal(rcluster_pubsub_kind(r), "message");
    freeReplyObject(r);
    r = parse_resp(ok, sizeof(ok) - 1);
    assert_null(rcluster_pubsub_kind(r));
    freeReplyObject(r);
    r = parse_resp(two, sizeof(two) - 1);
    assert_null(rcluster_pubsub_kind(r));
    freeReplyObject(r);
    assert_null(rcluster_pubsub_kind(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_vectors), cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_redirects),     cmocka_unit_test(test_urls),
        cmocka_unit_test(test_key_index),     cmocka_unit_test(test_shards),
        cmocka_unit_test(test_pubsub_kind),   cmocka_unit_test(test_error_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
