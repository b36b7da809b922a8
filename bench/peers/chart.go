package peers

import (
	"fmt"
	"image/color"
	"os"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Bar colours: ours stands out, the peers are grey, the psql floors a lighter grey.
var (
	oursColor  = color.RGBA{R: 0x1f, G: 0x6f, B: 0xd1, A: 0xff}
	peerColor  = color.RGBA{R: 0x8c, G: 0x8c, B: 0x8c, A: 0xff}
	floorColor = color.RGBA{R: 0xc8, G: 0xc8, B: 0xc8, A: 0xff}
)

// WriteChart draws up and down at the largest size side by side: one horizontal bar per tool (its
// median), a whisker from min to max, and a label with the seconds and the multiple of ours.
func (r *Results) WriteChart(path string) error {
	n := r.LargestN()
	var plots []*plot.Plot
	for _, op := range []Op{Up, Down} {
		verb := map[Op]string{Up: "up: apply", Down: "down: revert"}[op]
		p, err := r.panel(n, op, fmt.Sprintf("%s %d migrations", verb, n))
		if err != nil {
			return err
		}
		plots = append(plots, p)
	}
	img := vgimg.NewWith(vgimg.UseWH(11*vg.Inch, 4.4*vg.Inch), vgimg.UseDPI(110))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Inch / 3, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 4}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func (r *Results) panel(n int, op Op, title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(13)
	p.X.Label.Text = "seconds, median (lower is better); whisker: min–max"
	p.X.Label.TextStyle.Font = sans(10)
	p.X.Tick.Label.Font = sans(10)
	p.Y.Tick.Label.Font = sans(11)
	p.X.Min = 0

	// Bottom to top, so the first tool in the table (ours) is the top bar.
	tools := slices.Clone(r.Tools)
	slices.Reverse(tools)
	names := make([]string, len(tools))
	var whiskers plotter.XErrorBars
	var labels plotter.XYLabels
	xmax := 0.0
	for i, t := range tools {
		names[i] = t.Name
		if t.Role == RoleOurs {
			names[i] += " (ours)"
		}
		st, ok := r.Stat(t.Name, n, op)
		text := fmt.Sprintf("not run at N=%d", n)
		if ok {
			text = formatSeconds(st.Median)
			if ratio, ok := r.Ratio(t.Name, n, op); ok && !(t.Role == RoleOurs && t.Mode == PerMigration) {
				text += fmt.Sprintf("  (%.1f× ours)", ratio)
			}
			xmax = max(xmax, st.Max)
			whiskers.XYs = append(whiskers.XYs, plotter.XY{X: st.Median, Y: float64(i)})
			whiskers.XErrors = append(whiskers.XErrors, struct{ Low, High float64 }{st.Median - st.Min, st.Max - st.Median})
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: max(st.Max, 0), Y: float64(i)})
		labels.Labels = append(labels.Labels, " "+text)

		bar, err := plotter.NewBarChart(plotter.Values{st.Median}, vg.Points(16))
		if err != nil {
			return nil, err
		}
		bar.Horizontal, bar.XMin = true, float64(i)
		bar.LineStyle.Width = 0
		bar.Color = map[Role]color.Color{RoleOurs: oursColor, RolePeer: peerColor, RoleFloor: floorColor}[t.Role]
		p.Add(bar)
	}
	if len(whiskers.XYs) > 0 {
		w := &plotter.XErrorBars{XYs: whiskers.XYs, XErrors: whiskers.XErrors, LineStyle: plotter.DefaultLineStyle, CapWidth: vg.Points(6)}
		p.Add(w)
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign = draw.XLeft
		l.TextStyle[i].YAlign = draw.YCenter
		l.TextStyle[i].Font = sans(10)
	}
	p.Add(l)
	// Room on the right for the longest label.
	p.X.Max = xmax * 1.45
	p.NominalY(names...)
	return p, nil
}

// sans is gonum/plot's bundled Liberation Sans: the default serif reads worse at small sizes.
func sans(points float64) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(points)}
}
