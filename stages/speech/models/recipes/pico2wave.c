/* pico2wave's command line over SVOX Pico: pico2wave -w WAV [-l LANG] TEXT
 *
 * Debian ships pico2wave in non-free (libttspico-utils), which this workplace's apt sources do
 * not reach. make_pico_bundle.sh compiles this file with the Pico engine of PyPI's ttspico
 * sdist (the Android Open Source Project's sources and lingware, Apache-2.0) into one program
 * that needs only libc and libm, so the bundle runs on any x86-64 Linux with a glibc at least
 * as new as the build machine's (the device's, for one), with no Python.
 *
 * Writes 16 kHz mono 16-bit WAV. The text may carry Pico's markup (<speed level='90'>,
 * <pitch level='110'>). The lingware is read from $PICO_LANG_DIR, else from
 * ../share/pico/lang beside this program.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tts_engine.h"

#define RATE_HZ 16000 /* Pico's output rate */

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} Buffer;

/* The engine hands the audio over in chunks; keep them all, then write the file. */
static bool collect(void *user, uint32_t rate, uint32_t format, int channels, uint8_t *audio,
                    uint32_t audio_bytes, bool final) {
    Buffer *buffer = user;
    (void)rate, (void)format, (void)channels, (void)final;
    if (buffer->size + audio_bytes > buffer->capacity) {
        size_t capacity = 2 * (buffer->size + audio_bytes);
        uint8_t *grown = realloc(buffer->data, capacity);
        if (!grown) return false;
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, audio, audio_bytes);
    buffer->size += audio_bytes;
    return true;
}

static void put_u32(FILE *out, uint32_t v) {
    uint8_t b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
    fwrite(b, 1, 4, out);
}

static void put_u16(FILE *out, uint16_t v) {
    uint8_t b[2] = {v & 0xff, (v >> 8) & 0xff};
    fwrite(b, 1, 2, out);
}

static int write_wav(const char *path, const Buffer *pcm) {
    FILE *out = fopen(path, "wb");
    if (!out) return -1;
    uint32_t n = (uint32_t)pcm->size;
    fwrite("RIFF", 1, 4, out);
    put_u32(out, 36 + n);
    fwrite("WAVEfmt ", 1, 8, out);
    put_u32(out, 16);
    put_u16(out, 1); /* PCM */
    put_u16(out, 1); /* mono */
    put_u32(out, RATE_HZ);
    put_u32(out, RATE_HZ * 2);
    put_u16(out, 2);
    put_u16(out, 16);
    fwrite("data", 1, 4, out);
    put_u32(out, n);
    if (n) fwrite(pcm->data, 1, n, out);
    return fclose(out) == 0 ? 0 : -1;
}

static void usage(void) {
    fprintf(stderr, "usage: pico2wave -w WAV [-l en-US|en-GB] TEXT\n");
}

int main(int argc, char **argv) {
    const char *wav_path = NULL, *language = "en-US";
    int opt;
    while ((opt = getopt(argc, argv, "w:l:h")) != -1) {
        if (opt == 'w') wav_path = optarg;
        else if (opt == 'l') language = optarg;
        else { usage(); return opt == 'h' ? 0 : 2; }
    }
    if (!wav_path || optind != argc - 1) { usage(); return 2; }

    char lang_dir[PATH_MAX];
    const char *from_env = getenv("PICO_LANG_DIR");
    if (from_env && *from_env) {
        snprintf(lang_dir, sizeof lang_dir, "%s/", from_env);
    } else {
        char self[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
        if (len < 0) { perror("pico2wave: /proc/self/exe"); return 1; }
        self[len] = '\0';
        snprintf(lang_dir, sizeof lang_dir, "%s/../share/pico/lang/", dirname(self));
    }

    TTS_Engine *engine = TtsEngine_Create(lang_dir, language, collect);
    if (!engine) {
        fprintf(stderr, "pico2wave: no lingware for %s in %s\n", language, lang_dir);
        return 1;
    }
    Buffer pcm = {0};
    bool spoken = TtsEngine_Speak(engine, argv[optind], &pcm);
    TtsEngine_Destroy(engine);
    if (!spoken) { fprintf(stderr, "pico2wave: synthesis failed\n"); return 1; }
    if (write_wav(wav_path, &pcm) != 0) { perror(wav_path); return 1; }
    free(pcm.data);
    return 0;
}
