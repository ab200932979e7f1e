;; Counter-based random numbers for the library's noise draws: standard
;; normals and random signs. The loader (src/perf/random_generator.ts) passes
;; a fresh WebAssembly.Memory as "env" "memory" and copies the results out,
;; so they work in Node and in every browser whatever the tfjs backend; on
;; the wasm backend it also instantiates the module on the backend's memory
;; and writes whole blocks straight into a tensor (`out` is then its offset).
;;
;; Integers: Threefry-2x32 with 20 rounds (Salmon et al. 2011, "Parallel
;; random numbers: as easy as 1, 2, 3"; the generator of JAX), a bijection of
;; a 64-bit counter under a 64-bit key made only of 32-bit additions,
;; rotations and xors. Each SIMD lane runs one counter.
;;
;; Normals: Box–Muller on the two words of one counter (x0, x1):
;;   u  = f32(x0)·2⁻³² + 2⁻³³            in (0, 1]
;;   r  = sqrt(max(−2·log u, 0))          (log: Cephes logf; |z| up to 6.8)
;;   q  = x1 >> 30, j = x1 & (2²² − 1),   a = (f32(j) − (2²¹ − ½))·(π/2)/2²²  in (−π/4, π/4)
;;   θ  = q·π/2 + a                       (uniform on the circle)
;;   (cos θ, sin θ) from Cephes sinf/cosf polynomials in a and the quadrant q.
;; Block b of 8 outputs takes counters 4b … 4b+3 in lanes 0…3: outputs
;; 8b + l = r_l cos θ_l and 8b + 4 + l = r_l sin θ_l.
;;
;; Every float operation is one IEEE-754 float32 operation (add, sub, mul,
;; sqrt, max, convert; no fused multiply-add), so the plain-JavaScript
;; fallback, which rounds each double result with Math.fround, gives the
;; same bits. The constants are written as hexadecimal floats: exactly the
;; float32 values the fallback uses.
;;
;; Signs: four counters give 256 signs, one per bit of their 8 words (see
;; "signs" below): −1 where the bit is set, +1 where it is clear.
(module
  (import "env" "memory" (memory 1)) ;; MEMORY

  ;; One Threefry-2x32-20 evaluation per lane: counters (c0, c1) under the key
  ;; (k0, k1); returns (x0, x1). Key schedule ks = (k0, k1, k0 ⊕ k1 ⊕ 0x1BD11BDA);
  ;; rotations 13 15 26 6 | 17 29 16 24; a key injection after every 4 rounds.
  (func $threefry (param $c0 v128) (param $c1 v128) (param $k0 i32) (param $k1 i32) (result v128 v128)
    (local $x0 v128) (local $x1 v128) (local $ka v128) (local $kb v128) (local $kc v128) (local $t v128)
    (local $s i32) (local $odd i32) (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local.set $kc (i32x4.splat (local.get $k0)))
    (local.set $ka (i32x4.splat (local.get $k1)))
    (local.set $kb (i32x4.splat (i32.xor (i32.xor (local.get $k0) (local.get $k1)) (i32.const 0x1BD11BDA))))
    (local.set $x0 (i32x4.add (local.get $c0) (local.get $kc)))
    (local.set $x1 (i32x4.add (local.get $c1) (local.get $ka)))
    ;; Injection s (1 … 5) adds ks[s mod 3] to x0 and ks[(s + 1) mod 3] + s to x1;
    ;; (ka, kb, kc) holds (ks[s mod 3], ks[(s + 1) mod 3], ks[(s + 2) mod 3]).
    (local.set $s (i32.const 1))
    (loop $group
      (local.set $odd (i32.and (i32.sub (local.get $s) (i32.const 1)) (i32.const 1)))
      (local.set $r0 (select (i32.const 17) (i32.const 13) (local.get $odd)))
      (local.set $r1 (select (i32.const 29) (i32.const 15) (local.get $odd)))
      (local.set $r2 (select (i32.const 16) (i32.const 26) (local.get $odd)))
      (local.set $r3 (select (i32.const 24) (i32.const 6) (local.get $odd)))
      ;; round: x0 += x1; x1 = rotl(x1, r); x1 ^= x0
      (local.set $x0 (i32x4.add (local.get $x0) (local.get $x1)))
      (local.set $x1 (v128.xor (local.get $x0)
        (v128.or (i32x4.shl (local.get $x1) (local.get $r0)) (i32x4.shr_u (local.get $x1) (i32.sub (i32.const 32) (local.get $r0))))))
      (local.set $x0 (i32x4.add (local.get $x0) (local.get $x1)))
      (local.set $x1 (v128.xor (local.get $x0)
        (v128.or (i32x4.shl (local.get $x1) (local.get $r1)) (i32x4.shr_u (local.get $x1) (i32.sub (i32.const 32) (local.get $r1))))))
      (local.set $x0 (i32x4.add (local.get $x0) (local.get $x1)))
      (local.set $x1 (v128.xor (local.get $x0)
        (v128.or (i32x4.shl (local.get $x1) (local.get $r2)) (i32x4.shr_u (local.get $x1) (i32.sub (i32.const 32) (local.get $r2))))))
      (local.set $x0 (i32x4.add (local.get $x0) (local.get $x1)))
      (local.set $x1 (v128.xor (local.get $x0)
        (v128.or (i32x4.shl (local.get $x1) (local.get $r3)) (i32x4.shr_u (local.get $x1) (i32.sub (i32.const 32) (local.get $r3))))))
      (local.set $x0 (i32x4.add (local.get $x0) (local.get $ka)))
      (local.set $x1 (i32x4.add (i32x4.add (local.get $x1) (local.get $kb)) (i32x4.splat (local.get $s))))
      (local.set $t (local.get $ka))
      (local.set $ka (local.get $kb))
      (local.set $kb (local.get $kc))
      (local.set $kc (local.get $t))
      (local.set $s (i32.add (local.get $s) (i32.const 1)))
      (br_if $group (i32.le_u (local.get $s) (i32.const 5))))
    (local.get $x0)
    (local.get $x1))

  ;; log u for u in [2⁻³³, 1] (Cephes logf: u = m·2^e, m in [√½, √2), a degree-9 polynomial in m − 1).
  (func $log (param $u v128) (result v128)
    (local $bits v128) (local $e v128) (local $m v128) (local $small v128) (local $x v128) (local $z v128)
    (local $y v128) (local $fe v128)
    (local.set $bits (local.get $u))
    ;; u = m·2^e with m in [0.5, 1)
    (local.set $e (i32x4.sub (i32x4.shr_u (local.get $bits) (i32.const 23)) (i32x4.splat (i32.const 126))))
    (local.set $m (v128.or (v128.and (local.get $bits) (i32x4.splat (i32.const 0x007FFFFF))) (i32x4.splat (i32.const 0x3F000000))))
    (local.set $small (f32x4.lt (local.get $m) (f32x4.splat (f32.const 0x1.6a09e6p-1))))
    ;; m < √½: e − 1 and x = 2m − 1; else x = m − 1 (both exact)
    (local.set $e (i32x4.add (local.get $e) (local.get $small)))
    (local.set $x (v128.bitselect
      (f32x4.sub (f32x4.add (local.get $m) (local.get $m)) (f32x4.splat (f32.const 1)))
      (f32x4.sub (local.get $m) (f32x4.splat (f32.const 1)))
      (local.get $small)))
    (local.set $z (f32x4.mul (local.get $x) (local.get $x)))
    (local.set $y (f32x4.mul (f32x4.splat (f32.const 0x1.204376p-4)) (local.get $x)))
    (local.set $y (f32x4.mul (f32x4.add (local.get $y) (f32x4.splat (f32.const -0x1.d7a370p-4))) (local.get $x)))
    (local.set $y (f32x4.mul (f32x4.add (local.get $y) (f32x4.splat (f32.const 0x1.de4a34p-4))) (local.get $x)))
    (local.set $y (f32x4.mul (f32x4.add (local.get $y) (f32x4.splat (f32.const -0x1.fcba9ep-4))) (local.get $x)))
    (local.set $y (f32x4.mul (f32x4.add (local.get $y) (f32x4.splat (f32.const 0x1.23d37ep-3))) (local.get $x)))
    (local.set $y (f32x4.mul (f32x4.add (local.get $y) (f32x4.splat (f32.const -0x1.555ca0p-3))) (local.get $x)))
    (local.set $y (f32x4.mul (f32x4.add (local.get $y) (f32x4.splat (f32.const 0x1.999d58p-3))) (local.get $x)))
    (local.set $y (f32x4.mul (f32x4.add (local.get $y) (f32x4.splat (f32.const -0x1.fffff8p-3))) (local.get $x)))
    (local.set $y (f32x4.add (local.get $y) (f32x4.splat (f32.const 0x1.555554p-2))))
    (local.set $y (f32x4.mul (f32x4.mul (local.get $y) (local.get $x)) (local.get $z)))
    (local.set $fe (f32x4.convert_i32x4_s (local.get $e)))
    (local.set $y (f32x4.add (local.get $y) (f32x4.mul (f32x4.splat (f32.const -0x1.bd0106p-13)) (local.get $fe))))
    (local.set $y (f32x4.add (local.get $y) (f32x4.mul (f32x4.splat (f32.const -0.5)) (local.get $z))))
    (local.set $x (f32x4.add (local.get $x) (local.get $y)))
    (f32x4.add (local.get $x) (f32x4.mul (f32x4.splat (f32.const 0x1.630000p-1)) (local.get $fe))))

  ;; 8·blocks standard normals at out (byte offset), from counters (4b + lane, c1) under (k0, k1).
  (func (export "normals") (param $out i32) (param $blocks i32) (param $k0 i32) (param $k1 i32) (param $c1 i32)
    (local $b i32) (local $x0 v128) (local $x1 v128) (local $r v128) (local $a v128) (local $z v128)
    (local $s v128) (local $c v128) (local $swap v128) (local $cs v128) (local $sn v128) (local $C v128) (local $S v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $b) (local.get $blocks)))
        (call $threefry
          (i32x4.add (i32x4.splat (i32.shl (local.get $b) (i32.const 2))) (v128.const i32x4 0 1 2 3))
          (i32x4.splat (local.get $c1)) (local.get $k0) (local.get $k1))
        (local.set $x1)
        (local.set $x0)
        ;; radius from x0
        (local.set $r
          (f32x4.sqrt (f32x4.max
            (f32x4.mul
              (call $log (f32x4.add (f32x4.mul (f32x4.convert_i32x4_u (local.get $x0)) (f32x4.splat (f32.const 0x1p-32)))
                                    (f32x4.splat (f32.const 0x1p-33))))
              (f32x4.splat (f32.const -2)))
            (f32x4.splat (f32.const 0)))))
        ;; angle within the quadrant from the low 22 bits of x1
        (local.set $a (f32x4.mul
          (f32x4.sub (f32x4.convert_i32x4_u (v128.and (local.get $x1) (i32x4.splat (i32.const 0x3FFFFF))))
                     (f32x4.splat (f32.const 2097151.5)))
          (f32x4.splat (f32.const 0x1.921fb6p-22))))
        (local.set $z (f32x4.mul (local.get $a) (local.get $a)))
        ;; sin a = ((S3 z + S2) z + S1) z a + a
        (local.set $s (f32x4.add (f32x4.mul (f32x4.splat (f32.const -0x1.9943f2p-13)) (local.get $z)) (f32x4.splat (f32.const 0x1.11073cp-7))))
        (local.set $s (f32x4.add (f32x4.mul (local.get $s) (local.get $z)) (f32x4.splat (f32.const -0x1.555546p-3))))
        (local.set $s (f32x4.add (f32x4.mul (f32x4.mul (local.get $s) (local.get $z)) (local.get $a)) (local.get $a)))
        ;; cos a = ((C3 z + C2) z + C1) z z − ½z + 1
        (local.set $c (f32x4.add (f32x4.mul (f32x4.splat (f32.const 0x1.99eb9cp-16)) (local.get $z)) (f32x4.splat (f32.const -0x1.6c0c34p-10))))
        (local.set $c (f32x4.add (f32x4.mul (local.get $c) (local.get $z)) (f32x4.splat (f32.const 0x1.55554ap-5))))
        (local.set $c (f32x4.mul (f32x4.mul (local.get $c) (local.get $z)) (local.get $z)))
        (local.set $c (f32x4.sub (local.get $c) (f32x4.mul (f32x4.splat (f32.const 0.5)) (local.get $z))))
        (local.set $c (f32x4.add (local.get $c) (f32x4.splat (f32.const 1))))
        ;; quadrant q = x1 >> 30: q odd swaps (cos, sin) → (sin, cos); cos θ < 0 for q = 1, 2; sin θ < 0 for q = 2, 3.
        (local.set $swap (i32x4.shr_s (i32x4.shl (local.get $x1) (i32.const 1)) (i32.const 31)))
        (local.set $cs (v128.and (v128.xor (local.get $x1) (i32x4.shl (local.get $x1) (i32.const 1))) (i32x4.splat (i32.const 0x80000000))))
        (local.set $sn (v128.and (local.get $x1) (i32x4.splat (i32.const 0x80000000))))
        (local.set $C (v128.xor (v128.bitselect (local.get $s) (local.get $c) (local.get $swap)) (local.get $cs)))
        (local.set $S (v128.xor (v128.bitselect (local.get $c) (local.get $s) (local.get $swap)) (local.get $sn)))
        (v128.store (local.get $out) (f32x4.mul (local.get $r) (local.get $C)))
        (v128.store offset=16 (local.get $out) (f32x4.mul (local.get $r) (local.get $S)))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $next))))

  ;; 256·groups signs (±1 as float32) at out, from counters (4P + lane, c1) under (k0, k1):
  ;; element 256P + 4j + lane is bit (j mod 32) of word x0 (j < 32) or x1 (j ≥ 32) of its lane's counter,
  ;; −1.0 (0xBF800000) where the bit is set, +1.0 (0x3F800000) where it is clear.
  (func (export "signs") (param $out i32) (param $groups i32) (param $k0 i32) (param $k1 i32) (param $c1 i32)
    (local $p i32) (local $x0 v128) (local $x1 v128) (local $j i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $groups)))
        (call $threefry
          (i32x4.add (i32x4.splat (i32.shl (local.get $p) (i32.const 2))) (v128.const i32x4 0 1 2 3))
          (i32x4.splat (local.get $c1)) (local.get $k0) (local.get $k1))
        (local.set $x1)
        (local.set $x0)
        (local.set $j (i32.const 0))
        (loop $bits
          (v128.store (local.get $out)
            (v128.or (i32x4.splat (i32.const 0x3F800000)) (i32x4.shl (i32x4.shr_u (local.get $x0) (local.get $j)) (i32.const 31))))
          (v128.store offset=512 (local.get $out)
            (v128.or (i32x4.splat (i32.const 0x3F800000)) (i32x4.shl (i32x4.shr_u (local.get $x1) (local.get $j)) (i32.const 31))))
          (local.set $out (i32.add (local.get $out) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $bits (i32.lt_u (local.get $j) (i32.const 32))))
        (local.set $out (i32.add (local.get $out) (i32.const 512)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))))
