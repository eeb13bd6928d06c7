/* t_sniff.c - what a file's first bytes say it is: the magic numbers of
 * each kind, MPEG audio without a tag (two frame headers in a row), and
 * random bytes, which must say "file". */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "cubby/asset.h"
#include "tap.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static void
fill_random(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		p[i] = (unsigned char)(rng >> 24);
	}
}

/* Frames of one header, back to back, over n bytes (the rest zeros). */
static void
frames(unsigned char *p, size_t n, const unsigned char hdr[4], size_t len)
{
	memset(p, 0, n);
	for (size_t off = 0; off + 4 <= n; off += len)
		memcpy(p + off, hdr, 4);
}

int
main(void)
{
	static const unsigned char mp3[4] = { 0xff, 0xfb, 0x90, 0xc4 };   /* MPEG-1 III, 128k, 44.1k */
	static const unsigned char mp3pad[4] = { 0xff, 0xfb, 0x92, 0xc4 };  /* the same, padded */
	static const unsigned char mp2[4] = { 0xff, 0xfd, 0xe0, 0xc4 };   /* MPEG-1 II, 384k, 44.1k */
	static const unsigned char m2l3[4] = { 0xff, 0xf3, 0x60, 0xc4 };  /* MPEG-2 III, 48k, 22.05k */
	static const unsigned char m48k[4] = { 0xff, 0xfb, 0x94, 0xc4 };  /* MPEG-1 III, 128k, 48k */
	unsigned char b[ASSET_SNIFF_BYTES];
	int audio = 0, one_header = 0;

	is_str(asset_kind_sniff((const unsigned char *)"\xff\xd8\xff\xe0", 4), "image", "JPEG");
	is_str(asset_kind_sniff((const unsigned char *)"\x89PNG\r\n\x1a\n", 8), "image", "PNG");
	is_str(asset_kind_sniff((const unsigned char *)"RIFF\0\0\0\0WEBPVP8 ", 16), "image", "WebP");
	is_str(asset_kind_sniff((const unsigned char *)"\0\0\0\x1c" "ftypavif", 12), "image", "AVIF");
	is_str(asset_kind_sniff((const unsigned char *)"\0\0\0\x1c" "ftypisom", 12), "video", "MP4");
	is_str(asset_kind_sniff((const unsigned char *)"\0\0\0\x1c" "ftypM4A ", 12), "audio", "M4A");
	is_str(asset_kind_sniff((const unsigned char *)"\x1a\x45\xdf\xa3", 4), "video", "Matroska");
	is_str(asset_kind_sniff((const unsigned char *)"ID3\x04", 4), "audio", "MP3 with an ID3 tag");
	is_str(asset_kind_sniff((const unsigned char *)"OggS", 4), "audio", "Ogg");
	is_str(asset_kind_sniff((const unsigned char *)"%PDF-1.4", 8), "file", "PDF");
	ok(asset_kind_sniff((const unsigned char *)"", 0) == NULL, "nothing says nothing");

	/* MPEG audio with no tag: frames back to back */
	frames(b, sizeof b, mp3, 417);
	is_str(asset_kind_sniff(b, sizeof b), "audio", "MPEG-1 layer III frames (417 bytes each)");
	frames(b, sizeof b, mp3pad, 418);
	is_str(asset_kind_sniff(b, sizeof b), "audio", "padded frames (418 bytes)");
	frames(b, sizeof b, mp2, 1253);
	is_str(asset_kind_sniff(b, sizeof b), "audio", "MPEG-1 layer II at 384 kbit/s (1,253 bytes)");
	frames(b, sizeof b, m2l3, 156);
	is_str(asset_kind_sniff(b, sizeof b), "audio", "MPEG-2 layer III at 22.05 kHz (156 bytes)");
	frames(b, 417, mp3, 417);
	is_str(asset_kind_sniff(b, 417), "audio", "a file of exactly one frame");
	/* one header alone, or a second one in the wrong place or shape */
	frames(b, sizeof b, mp3, 417);
	memset(b + 4, 0, sizeof b - 4);
	is_str(asset_kind_sniff(b, sizeof b), "file", "a sync with nothing where its frame ends");
	frames(b, sizeof b, mp3, 416);
	is_str(asset_kind_sniff(b, sizeof b), "file", "the next header a byte early");
	memcpy(b, mp3, 4);
	memcpy(b + 417, m48k, 4);
	is_str(asset_kind_sniff(b, sizeof b), "file", "the next header at another sample rate");
	frames(b, 300, mp3, 417);
	is_str(asset_kind_sniff(b, 300), "file", "shorter than the frame it announces");
	{
		static const unsigned char bad[][4] = {
			{ 0xff, 0xeb, 0x90, 0xc4 },     /* reserved version */
			{ 0xff, 0xf9, 0x90, 0xc4 },     /* reserved layer (ADTS AAC has it) */
			{ 0xff, 0xfb, 0xf0, 0xc4 },     /* bad bitrate */
			{ 0xff, 0xfb, 0x00, 0xc4 },     /* free format */
			{ 0xff, 0xfb, 0x9c, 0xc4 },     /* reserved sample rate */
			{ 0xff, 0xfb, 0x90, 0xc6 },     /* reserved emphasis */
		};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			frames(b, sizeof b, bad[i], 417);
			is_str(asset_kind_sniff(b, sizeof b), "file", "invalid header %zu", i);
		}
	}

	/* Random bytes (compressed or encrypted files look like this): one
	 * in about 2,700 starts with what a single sync check took for MPEG
	 * audio; none is taken for it now. */
	for (int i = 0; i < 200000; i++) {
		const char *k;

		fill_random(b, sizeof b);
		k = asset_kind_sniff(b, sizeof b);
		if (b[0] == 0xff && (b[1] & 0xe0) == 0xe0 && (b[1] & 0x06) != 0)
			one_header++;
		if (k != NULL && strcmp(k, "audio") == 0)
			audio++;
	}
	ok(one_header > 30, "the old rule would have taken %d of 200,000 random files for audio", one_header);
	is_int(audio, 0, "random files taken for audio");
	return done_testing();
}
