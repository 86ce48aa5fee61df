//! The binding code's QR code on the app waiting page, drawn with one fixed mask.
//!
//! The waiting page is rendered on every refresh of every app login, and the QR library
//! tries all eight masks and scores each to pick one (4 % of the server's CPU in the
//! benchmark's profile). Any mask decodes to the same bytes (the format information
//! names it), so the code is built with the library's own steps — the same segmentation,
//! error correction level, version and codewords as `QrCode::new` — and one mask.

use base64::Engine;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::render::Renderer;
use qrcode::render::svg::Color;
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

/// The binding code as a QR code, as an SVG data URL (the pages' CSP allows `data:`
/// images and nothing else from outside).
pub fn binding_qr(request: Uuid, code: &str) -> Option<String> {
    let (colors, width) = modules(content(request, code).as_bytes(), MASK).ok()?;
    let quiet_zone = 4;
    let svg = Renderer::<Color<'_>>::new(&colors, width, quiet_zone)
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
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
    /// library's, so the bytes the app scans are unchanged; only the mask may differ. Where
    /// the library picked our mask, the page's SVG is exactly the library's drawing.
    #[test]
    fn same_bytes_as_the_librarys_code() {
        let mut seen_masks = std::collections::BTreeSet::new();
        let mut same_svg = 0;
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
                let library_svg = library
                    .render::<Color<'_>>()
                    .min_dimensions(160, 160)
                    .quiet_zone(true)
                    .build();
                assert_eq!(svg_of(&binding_qr(request, &code).unwrap()), library_svg);
                same_svg += 1;
            }
        }
        // The comparison is not trivially true: the library picks different masks, ours
        // among them.
        assert!(seen_masks.len() > 1, "{seen_masks:?}");
        assert!(same_svg > 0);
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
