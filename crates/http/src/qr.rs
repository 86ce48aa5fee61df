//! The binding code's QR code on the app waiting page, drawn with one fixed mask.
//!
//! The waiting page is rendered on every refresh of every app login, and the QR library
//! tries all eight masks and scores each to pick one (4 % of the server's CPU in the
//! benchmark's profile). Any mask decodes to the same bytes (the format information
//! names it), so the code is built with the library's own steps — the same segmentation,
//! error correction level, version and codewords as `QrCode::new` — and one mask.

use base64::Engine;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::types::QrError;
use qrcode::{EcLevel, QrResult};
use uuid::Uuid;

/// The mask every binding QR code is drawn with.
const MASK: MaskPattern = MaskPattern::Checkerboard;
/// What `QrCode::new` uses: medium error correction.
const EC_LEVEL: EcLevel = EcLevel::M;

/// What the app scans: `sesam:approve?request=…&code=…`.
fn content(request: Uuid, code: &str) -> String {
    format!("sesam:approve?request={request}&code={code}")
}

/// The modules of the QR code of `data` under `mask`, and its width in modules.
fn modules(data: &[u8], mask: MaskPattern) -> QrResult<(Vec<qrcode::Color>, usize)> {
    let bits = qrcode::bits::encode_auto(data, EC_LEVEL)?;
    let version = bits.version();
    let (data, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, EC_LEVEL)?;
    let mut canvas = Canvas::new(version, EC_LEVEL);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec);
    canvas.apply_mask(mask);
    let width = usize::try_from(version.width()).map_err(|_| QrError::InvalidVersion)?;
    Ok((canvas.into_colors(), width))
}

/// The SVG of a QR code: one path of horizontal runs of dark modules, in module units
/// (the library's renderer writes four numbers per dark module through `fmt`, 3 % of the
/// server's CPU in the benchmark's profile; runs are about a third as many).
fn svg(colors: &[qrcode::Color], width: usize) -> String {
    const QUIET_ZONE: usize = 4;
    const MIN_PIXELS: usize = 160;
    let side = width + 2 * QUIET_ZONE;
    let pixels = side * MIN_PIXELS.div_ceil(side);
    let mut numbers = itoa::Buffer::new();
    let mut out = String::with_capacity(256 + colors.len() * 4);
    let mut push = |out: &mut String, n: usize| out.push_str(numbers.format(n));
    out.push_str(r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width=""#);
    push(&mut out, pixels);
    out.push_str(r#"" height=""#);
    push(&mut out, pixels);
    out.push_str(r#"" viewBox="0 0 "#);
    push(&mut out, side);
    out.push(' ');
    push(&mut out, side);
    out.push_str(r##"" shape-rendering="crispEdges"><path fill="#fff" d="M0 0h"##);
    push(&mut out, side);
    out.push('v');
    push(&mut out, side);
    out.push_str(r##"H0z"/><path fill="#000" d=""##);
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        for run in row.chunk_by(|a, b| a == b) {
            if run[0] == qrcode::Color::Dark {
                out.push('M');
                push(&mut out, x + QUIET_ZONE);
                out.push(' ');
                push(&mut out, y + QUIET_ZONE);
                out.push('h');
                push(&mut out, run.len());
                out.push_str("v1h-");
                push(&mut out, run.len());
                out.push('z');
            }
            x += run.len();
        }
    }
    out.push_str(r#""/></svg>"#);
    out
}

/// The binding code as a QR code, as an SVG data URL (the pages' CSP allows `data:`
/// images and nothing else from outside).
pub fn binding_qr(request: Uuid, code: &str) -> Option<String> {
    let (colors, width) = modules(content(request, code).as_bytes(), MASK).ok()?;
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg(&colors, width))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [MaskPattern; 8] = [
        MaskPattern::Checkerboard,
        MaskPattern::HorizontalLines,
        MaskPattern::VerticalLines,
        MaskPattern::DiagonalLines,
        MaskPattern::LargeCheckerboard,
        MaskPattern::Fields,
        MaskPattern::Diamonds,
        MaskPattern::Meadow,
    ];

    fn svg_of(url: &str) -> String {
        let b64 = url.strip_prefix("data:image/svg+xml;base64,").unwrap();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
        .unwrap()
    }

    /// The library's own code (best of eight masks) is one of the eight fixed-mask codes
    /// of the same content: segmentation, version, codewords and error correction are the
    /// library's, so the bytes the app scans are unchanged; only the mask may differ.
    #[test]
    fn same_bytes_as_the_librarys_code() {
        let mut seen_masks = std::collections::BTreeSet::new();
        let mut same_mask = 0;
        for i in 0..200u128 {
            let request =
                Uuid::from_u128(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
            let code = format!("{:04}", (i * 37) % 10_000);
            let text = content(request, &code);
            let library = qrcode::QrCode::new(text.as_bytes()).unwrap();
            let ours = modules(text.as_bytes(), MASK).unwrap();
            assert_eq!(ours.1, library.width());
            let matching: Vec<usize> = ALL
                .iter()
                .enumerate()
                .filter(|(_, m)| modules(text.as_bytes(), **m).unwrap().0 == library.to_colors())
                .map(|(n, _)| n)
                .collect();
            assert_eq!(matching.len(), 1, "{text}");
            seen_masks.insert(matching[0]);
            if matching[0] == MASK as usize {
                same_mask += 1;
            }
        }
        // The comparison is not trivially true: the library picks different masks, ours
        // among them.
        assert!(seen_masks.len() > 1, "{seen_masks:?}");
        assert!(same_mask > 0);
    }

    /// The dark modules the SVG's path draws, read back from its runs (`M x y h n v1 h-n z`).
    fn drawn(svg: &str, width: usize) -> Vec<qrcode::Color> {
        let path = svg.split(r##"<path fill="#000" d=""##).nth(1).unwrap();
        let path = path.split('"').next().unwrap();
        let mut colors = vec![qrcode::Color::Light; width * width];
        for run in path.split('M').filter(|r| !r.is_empty()) {
            let (xy, rest) = run.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let (n, tail) = rest.split_once("v1h-").unwrap();
            assert_eq!(tail, format!("{n}z"), "{run}");
            let (x, y, n): (usize, usize, usize) =
                (x.parse().unwrap(), y.parse().unwrap(), n.parse().unwrap());
            for dx in 0..n {
                colors[(y - 4) * width + x - 4 + dx] = qrcode::Color::Dark;
            }
        }
        colors
    }

    /// The drawing is the code: every dark module and no other, inside a 4-module quiet
    /// zone, at least 160 pixels wide, for codes of several sizes and contents.
    #[test]
    fn the_svg_draws_exactly_the_codes_modules() {
        for i in 0..50u128 {
            let request =
                Uuid::from_u128(i.wrapping_mul(0x2545_f491_4f6c_dd1d_9e37_79b9_7f4a_7c15));
            let code = format!("{:04}", (i * 7919) % 10_000);
            let (colors, width) = modules(content(request, &code).as_bytes(), MASK).unwrap();
            let svg = svg_of(&binding_qr(request, &code).unwrap());
            assert_eq!(drawn(&svg, width), colors);
            let side = width + 8;
            assert!(
                svg.contains(&format!(r#"viewBox="0 0 {side} {side}""#)),
                "{svg}"
            );
            let pixels: usize = svg
                .split(r#"width=""#)
                .nth(1)
                .and_then(|w| w.split('"').next())
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                pixels >= 160 && pixels.is_multiple_of(side),
                "{pixels} for {side}"
            );
        }
    }

    #[test]
    fn a_data_url_of_an_svg_with_a_quiet_zone() {
        let url = binding_qr(Uuid::from_u128(1), "0042").unwrap();
        let svg = svg_of(&url);
        assert!(svg.contains("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert_eq!(
            binding_qr(Uuid::from_u128(1), "0042"),
            Some(url),
            "deterministic"
        );
    }
}
